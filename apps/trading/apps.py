from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "apps.trading"

    def ready(self):
        from apps.common.ops_hooks import circuit_breaker_reader_set, reconciliation_age_reader_set
        from apps.markets.signals import candles_closed
        from apps.strategies.validation import account_equity_reader_set
        from apps.trading import tasks  # noqa: F401 - registers the tasks that services queue by name
        from apps.trading.metrics import register_trading_metrics
        from apps.trading.selectors import account_equity
        from apps.trading.services.reconcile import reconciliation_ages_read
        from apps.trading.venue_health import circuit_breakers_read

        register_trading_metrics()
        account_equity_reader_set(account_equity)
        reconciliation_age_reader_set(reconciliation_ages_read)
        circuit_breaker_reader_set(circuit_breakers_read)
        candles_closed.connect(_evaluate_on_candles_closed, dispatch_uid="trading.evaluate_on_candles_closed")


def _evaluate_on_candles_closed(sender, *, market_id, timeframe, open_times, **kwargs):
    """Each closed candle of a running strategy's (market, timeframe) queues its evaluation."""
    from apps.trading.tasks import strategies_on_candles_closed

    strategies_on_candles_closed(market_id=market_id, timeframe=timeframe, open_times=open_times)
