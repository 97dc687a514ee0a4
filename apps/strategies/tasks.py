"""Strategy work (queue: strategies). Thin: take ids, call one service."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=45)
def strategy_evaluate(strategy_id: int, market_id: int, candle_time: str) -> str | None:
    """Idempotent: one evaluation per (strategy, market, candle), so a redelivery is a no-op."""
    from apps.strategies.services.evaluation import candle_time_parse
    from apps.strategies.services.evaluation import strategy_evaluate as evaluate

    evaluation = evaluate(strategy_id=strategy_id, market_id=market_id, candle_time=candle_time_parse(candle_time))
    return evaluation.outcome if evaluation else None
