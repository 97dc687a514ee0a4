from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "apps.strategies"

    def ready(self):
        from apps.strategies import tasks  # noqa: F401 - registers the tasks that services queue by name
