from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "apps.research"

    def ready(self):
        from apps.research import tasks  # noqa: F401 - registered before a service queues one by name
        from apps.research.promotion import strategy_promote
        from apps.strategies.admin import strategy_promoter_set

        strategy_promoter_set(strategy_promote)
