"""Deciding: the same engine code as the backtest, run on the trailing window of one closed
candle; the newest bar's decisions come back as wanted signals. The strategies app decides and
never acts: trading records the signals and places them (apps/trading/services/evaluation.py)."""

import math
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.engine.strategies.base import Candles, SignalArrays
from apps.markets.selectors import candles_window, markets_top_scored
from apps.strategies.models import Strategy, StrategyEvaluation

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


def evaluation_log_record(*, strategy, market_id, candle_time, outcome, detail, started) -> StrategyEvaluation | None:
    """One evaluation per (strategy, market, candle): None when another worker logged it first."""
    try:
        with transaction.atomic():
            evaluation = StrategyEvaluation.objects.create(
                strategy=strategy,
                market_id=market_id,
                candle_time=candle_time,
                outcome=outcome,
                detail=detail[:4000],
                duration_ms=(time.perf_counter() - started) * 1000,
            )
    except IntegrityError:
        return None
    Strategy.objects.filter(pk=strategy.pk).update(last_evaluated_at=evaluation.created_at)
    return evaluation


def strategy_decide(*, strategy: Strategy, market_id: int, candle_time: datetime) -> tuple[str, str, list[WantedSignal]]:
    """Run the strategy's engine on the window ending at the candle: (outcome, detail, wanted)."""
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
    wanted, held_back = _entries_in_top_markets(strategy, market_id, wanted)
    if not wanted:
        return StrategyEvaluation.Outcome.NOTHING, held_back, []
    return StrategyEvaluation.Outcome.SIGNAL, ", ".join(f"{w.action} at {w.price}" for w in wanted), wanted


def _entries_in_top_markets(strategy: Strategy, market_id: int, wanted: list) -> tuple[list, str]:
    """With "top N markets by score", entries only where the market is among the N best-scored
    of the strategy's markets on the newest daily score, resolved now; exits always pass."""
    count = strategy.markets_top
    if not count or not any(w.intent == "open" for w in wanted):
        return wanted, ""
    top = markets_top_scored(market_ids=list(strategy.markets.values_list("pk", flat=True)), count=count)
    if market_id in top:
        return wanted, ""
    kept = [w for w in wanted if w.intent != "open"]
    return kept, f"entry held back: the market is not among the top {count} of the strategy's markets by pair score"


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
        indicators = {
            name: (None if math.isnan(float(values[index])) else float(values[index]))
            for name, values in arrays.indicators.items()
        }
        wanted.append(
            WantedSignal(
                action=action,
                side=side,
                intent=intent,
                price=Decimal(repr(float(candles.close[index]))),
                stop_loss=_price(arrays.stop_loss, index) if intent == "open" else None,
                take_profit=_price(arrays.take_profit, index) if intent == "open" else None,
                size=_price(arrays.size, index) if intent == "open" else None,
                indicators=indicators,
            )
        )
    return wanted
