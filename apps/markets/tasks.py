"""Market data tasks (queue: marketdata). Thin: take ids, call one service."""

from celery import shared_task

from apps.markets.selectors import collectors_due
from apps.markets.services import collector_run


@shared_task(acks_late=True)
def collect_due() -> int:
    """Beat entry point: queue a collection for every (market, timeframe) whose candle closed."""
    due = collectors_due()
    for collector in due:
        candles_collect.delay(collector.pk)
    return len(due)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def candles_collect(collector_id: int) -> dict:
    """Idempotent (closed candles are upserted), so a redelivery after a crash is harmless."""
    result = collector_run(collector_id=collector_id)
    if result.inserted_times:  # committed by now: strategies evaluate the newest closed candle
        from apps.markets.models import CollectorStatus
        from apps.strategies.services import strategies_on_candles_closed

        collector = CollectorStatus.objects.only("market_id", "timeframe").get(pk=collector_id)
        strategies_on_candles_closed(market_id=collector.market_id, timeframe=collector.timeframe, open_times=result.inserted_times)
    return {"fetched": result.fetched, "inserted": result.inserted, "gaps_repaired": result.gaps_repaired}
