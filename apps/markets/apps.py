from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "apps.markets"

    def ready(self):
        from apps.markets.metrics import register_collector_metrics

        register_collector_metrics()
