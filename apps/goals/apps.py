from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "apps.goals"

    def ready(self):
        from apps.goals import receivers  # noqa: F401 - connects the entry-sized log
