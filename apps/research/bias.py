"""Bias checks of registered strategies (the engine's apps.engine.bias) on a seeded market.

A seeded random walk is used, not stored candles: the checks are about the strategy's code
(does it read the future, does it remember where its history began), and a generated market
of any length and timeframe is always there, for every strategy, in CI too."""

from __future__ import annotations

from apps.common.errors import Invalid
from apps.engine.bias import BiasReport, bias_candles, bias_check
from apps.engine.strategies.registry import strategy_classes
from apps.strategies.backtests.plan import engine_strategy_build, params_parse
from apps.strategies.backtests.selectors import BacktestError

DEFAULT_BARS = 1000  # candles after the warm-up: every one of them is the last bar of a cut


def strategies_bias_check(kinds: list[str], *, params: list[str], bars: int = DEFAULT_BARS, seed: int = 0) -> list[BiasReport]:
    """One report per strategy kind; `params` ("name=value") apply to a single kind only."""
    if bars < 10:
        raise Invalid.from_fields({"bars": f"must be at least 10, got {bars}"})
    if params and len(kinds) != 1:
        raise Invalid.from_fields({"param": "can be given for one strategy only"})
    return [_check_one(kind, params, bars, seed) for kind in kinds]


def registered_kinds() -> list[str]:
    return sorted(strategy_classes())


def _check_one(kind: str, params: list[str], bars: int, seed: int) -> BiasReport:
    try:
        strategy = engine_strategy_build(kind, params_parse(params))
    except BacktestError as exc:
        raise Invalid.from_fields({"strategy": str(exc)}) from None
    timeframe = strategy.params.get("entry_timeframe", "1m")  # a strategy bound to its timeframe gets it
    candles = bias_candles(strategy.warmup_period + bars, timeframe=timeframe, seed=seed)
    return bias_check(strategy, candles)
