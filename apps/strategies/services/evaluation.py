"""Live evaluation: the same engine code as the backtest, run on the trailing window at each
closed candle; the newest bar's decisions become Signals (kept even when later refused)."""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from apps.common.logging import get_logger
from apps.engine.strategies.base import Candles, SignalArrays
from apps.markets.models import CollectorStatus
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.strategies.selectors import candles_window
from apps.strategies.services.lifecycle import strategy_failure_record

log = get_logger(__name__)

# (array name, order side, intent). Shorts are recorded too (parity covers every array);
# the desk trades spot, so the order service refuses to open them.
ACTIONS = (
    ("exit_long", "sell", "close"),
    ("exit_short", "buy", "close"),
    ("entry_long", "buy", "open"),
    ("entry_short", "sell", "open"),
)


@dataclass(frozen=True)
class WantedSignal:
    action: str
    side: str
    intent: str
    price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    size: Decimal | None
    indicators: dict


# --- Hook for the collector ------------------------------------------------------------


def strategies_on_candles_closed(*, market_id: int, timeframe: str, open_times: list[datetime]) -> int:
    """Call after the candles' transaction committed. Queues strategy_evaluate for each running
    strategy on (market, timeframe), for the newest candle only: a burst of older candles is a
    catch-up, and trading on a stale candle is what the desk must not do."""
    from apps.strategies.tasks import strategy_evaluate as evaluate_task
    from apps.trading.tasks import price_updated

    if not open_times:
        return 0
    newest = max(open_times)
    strategy_ids = list(Strategy.objects.filter(status=Strategy.Status.RUNNING, timeframe=timeframe, markets=market_id)
                        .values_list("pk", flat=True))
    for strategy_id in strategy_ids:
        evaluate_task.delay(strategy_id, market_id, newest.isoformat())
    price_updated.delay(market_id, "candle")
    return len(strategy_ids)


# --- Evaluation ------------------------------------------------------------------------


def strategy_evaluate(*, strategy_id: int, market_id: int, candle_time: datetime) -> StrategyEvaluation | None:
    """Evaluate one strategy on one closed candle, once. An exception in the strategy is
    recorded on the evaluation log and counted; it never reaches the caller."""
    done = StrategyEvaluation.objects.filter(strategy=OuterRef("pk"), market_id=market_id, candle_time=candle_time)
    strategy = Strategy.objects.select_related("account").annotate(evaluated=Exists(done)).get(pk=strategy_id)
    if strategy.status != Strategy.Status.RUNNING or strategy.evaluated:
        return None
    started = time.perf_counter()
    try:
        outcome, detail, wanted = _run_engine(strategy, market_id, candle_time)
    except Exception as exc:  # noqa: BLE001 - a strategy's bug must not stop the desk
        log.exception("strategy raised", strategy=strategy.pk, market=market_id)
        evaluation = _log(strategy, market_id, candle_time, StrategyEvaluation.Outcome.ERROR,
                          f"{type(exc).__name__}: {exc}", started)
        if evaluation:
            strategy_failure_record(strategy_id=strategy.pk, reason=f"evaluation raised {type(exc).__name__}: {exc}")
        return evaluation
    return _record(strategy, market_id, candle_time, outcome, detail, wanted, started)


def _record(strategy, market_id, candle_time, outcome, detail, wanted, started) -> StrategyEvaluation | None:
    from apps.trading.services.placement import account_signals_place
    from apps.trading.services.signals import signal_create

    with transaction.atomic():
        evaluation = _log(strategy, market_id, candle_time, outcome, detail, started)
        if evaluation is None:
            return None  # another worker evaluated this candle first
        signals = [signal_create(strategy=strategy, market_id=market_id, candle_time=candle_time, **vars(w)) for w in wanted]
    if signals:  # placed in this task: no second hop through the broker before the order exists
        account_signals_place(account_id=strategy.account_id, signal_ids=[signal.pk for signal in signals])
    return evaluation


def _log(strategy, market_id, candle_time, outcome, detail, started) -> StrategyEvaluation | None:
    try:
        with transaction.atomic():
            evaluation = StrategyEvaluation.objects.create(
                strategy=strategy, market_id=market_id, candle_time=candle_time, outcome=outcome,
                detail=detail[:4000], duration_ms=(time.perf_counter() - started) * 1000)
    except IntegrityError:
        return None
    Strategy.objects.filter(pk=strategy.pk).update(last_evaluated_at=evaluation.created_at)
    return evaluation


def _run_engine(strategy: Strategy, market_id: int, candle_time: datetime) -> tuple[str, str, list[WantedSignal]]:
    from apps.engine.strategies.registry import strategy_build

    engine = strategy_build(strategy.kind, strategy.params)
    window = candles_window(market=market_id, timeframe=strategy.timeframe, end=candle_time, count=engine.warmup_period)
    expected_ms = int(candle_time.timestamp() * 1000)
    if not len(window) or window.time[-1] != expected_ms:
        return StrategyEvaluation.Outcome.SKIPPED, "the candle is not stored (yet)", []
    if len(window) < engine.warmup_period:
        return StrategyEvaluation.Outcome.SKIPPED, f"only {len(window)} of {engine.warmup_period} warm-up candles stored", []
    window = _with_informative(window, engine.informative_timeframes())
    wanted = last_bar_signals(engine.signals(window), window)
    if not wanted:
        return StrategyEvaluation.Outcome.NOTHING, "", []
    return StrategyEvaluation.Outcome.SIGNAL, ", ".join(f"{w.action} at {w.price}" for w in wanted), wanted


def _with_informative(candles: Candles, timeframes: tuple[str, ...]) -> Candles:
    """Higher timeframes are built from the same window (complete buckets only), exactly as a
    backtest built from the same candles sees them."""
    from apps.engine.strategies.timeframes import candles_resample

    for timeframe in timeframes:
        candles.informative[timeframe] = candles_resample(candles, timeframe)
    return candles


def _price(array, index: int) -> Decimal | None:
    if array is None:
        return None
    value = float(array[index])
    return None if math.isnan(value) else Decimal(repr(value))


def last_bar_signals(arrays: SignalArrays, candles: Candles, index: int = -1) -> list[WantedSignal]:
    """The decisions at bar `index`, as signals priced at that candle's close."""
    wanted = []
    for action, side, intent in ACTIONS:
        flags = getattr(arrays, action)
        if flags is None or not bool(flags[index]):
            continue
        indicators = {name: (None if math.isnan(float(values[index])) else float(values[index]))
                      for name, values in arrays.indicators.items()}
        wanted.append(WantedSignal(
            action=action, side=side, intent=intent, price=Decimal(repr(float(candles.close[index]))),
            stop_loss=_price(arrays.stop_loss, index) if intent == "open" else None,
            take_profit=_price(arrays.take_profit, index) if intent == "open" else None,
            size=_price(arrays.size, index) if intent == "open" else None,
            indicators=indicators,
        ))
    return wanted


def candle_time_parse(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def market_data_fresh(*, market_id: int, timeframe: str) -> bool:
    collector = CollectorStatus.objects.filter(market_id=market_id, timeframe=timeframe).first()
    return bool(collector and collector.is_fresh())
