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
    return {"fetched": result.fetched, "inserted": result.inserted, "gaps_repaired": result.gaps_repaired}


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def market_scores_refresh() -> int:
    """Beat, daily: the pair-selection scores of every active market. Idempotent per day."""
    from apps.markets.scores import market_scores_refresh as refresh

    return len(refresh())
