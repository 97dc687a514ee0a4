from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "apps.trading"

    def ready(self):
        from apps.trading.metrics import register_trading_metrics

        register_trading_metrics()
