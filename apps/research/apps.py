from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "apps.research"

    def ready(self):
        from apps.research import tasks  # noqa: F401 - registered before a service queues one by name
