"""Live evaluation, the acting side: each running strategy is evaluated once per closed
candle, the signals it decided are recorded (kept even when later refused) and placed in the
same task, so no broker hop comes before the order exists."""

import time
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef

from apps.common import metrics
from apps.common.logging import get_logger
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.strategies.services.evaluation import evaluation_log_record, strategy_decide
from apps.trading.services.placement import account_signals_place
from apps.trading.services.signals import signal_create
from apps.trading.services.strategy_health import strategy_failure_record

log = get_logger(__name__)


def strategy_evaluate(*, strategy_id: int, market_id: int, candle_time: datetime) -> StrategyEvaluation | None:
    """Evaluate one strategy on one closed candle, once. An exception in the strategy is
    recorded on the evaluation log and counted; it never reaches the caller."""
    done = StrategyEvaluation.objects.filter(strategy=OuterRef("pk"), market_id=market_id, candle_time=candle_time)
    strategy = Strategy.objects.select_related("account").annotate(evaluated=Exists(done)).get(pk=strategy_id)
    if strategy.status != Strategy.Status.RUNNING or strategy.evaluated:
        return None
    started = time.perf_counter()
    try:
        outcome, detail, wanted = strategy_decide(strategy=strategy, market_id=market_id, candle_time=candle_time)
    except Exception as exc:
        log.exception("strategy raised", strategy=strategy.pk, market=market_id)
        evaluation = evaluation_log_record(
            strategy=strategy,
            market_id=market_id,
            candle_time=candle_time,
            outcome=StrategyEvaluation.Outcome.ERROR,
            detail=f"{type(exc).__name__}: {exc}",
            started=started,
        )
        if evaluation:
            strategy_failure_record(strategy_id=strategy.pk, reason=f"evaluation raised {type(exc).__name__}: {exc}")
        return evaluation
    return _signals_record(strategy, market_id, candle_time, outcome, detail, wanted, started)


def _signals_record(strategy, market_id, candle_time, outcome, detail, wanted, started) -> StrategyEvaluation | None:
    with transaction.atomic():
        evaluation = evaluation_log_record(
            strategy=strategy, market_id=market_id, candle_time=candle_time, outcome=outcome, detail=detail, started=started
        )
        if evaluation is None:
            return None  # another worker evaluated this candle first
        signals = [signal_create(strategy=strategy, market_id=market_id, candle_time=candle_time, **vars(w)) for w in wanted]
    for signal in signals:
        metrics.signals_generated.labels(strategy.name, signal.side).inc()
    if signals:  # placed in this task: no second hop through the broker before the order exists
        account_signals_place(account_id=strategy.account_id, signal_ids=[signal.pk for signal in signals])
    return evaluation
