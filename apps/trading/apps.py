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
        from celery.signals import worker_init

        worker_init.connect(_gates_close_on_worker_start, dispatch_uid="trading.gates_close_on_worker_start", weak=False)


def _evaluate_on_candles_closed(sender, *, market_id, timeframe, open_times, **kwargs):
    """Each closed candle of a running strategy's (market, timeframe) queues its evaluation."""
    from apps.trading.tasks import strategies_on_candles_closed

    strategies_on_candles_closed(market_id=market_id, timeframe=timeframe, open_times=open_times)


def _gates_close_on_worker_start(sender=None, **kwargs):
    """The start gate: a worker (re)started, so it may have missed fills, sells by hand, a crash's
    leftovers. Entries wait until each account's holdings are reconciled, which is queued now
    (picked up as soon as a worker consumes). Never stops the worker from starting."""
    from django.db import connection
    from django.utils import timezone

    from apps.common.logging import get_logger
    from apps.trading.dispatch import task_queue
    from apps.trading.holdings_gate import gates_close
    from apps.trading.models import HoldingsState

    try:
        gates_close(reason=f"a worker started at {timezone.now():%H:%M:%S} UTC")
        for account_id in HoldingsState.objects.filter(gate_closed_at__isnull=False).values_list("account_id", flat=True):
            task_queue("holdings_reconcile", account_id)
    except Exception:
        get_logger(__name__).exception("start gate not closed")
    finally:
        connection.close()  # a prefork parent must not hand its connection to its children
