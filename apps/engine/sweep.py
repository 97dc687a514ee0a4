"""Parameter sweeps: many backtests of one strategy over the same candles, on several cores.

Workers are forked once with the candles already in memory (copy-on-write, nothing pickled
per run) and return only the metrics, so a sweep costs about runs x one backtest / cores.
Results come back in the order of the parameter sets, whatever the scheduling.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.strategies.base import Candles, SignalArrays

SignalFactory = Callable[[Candles, Mapping[str, Any]], SignalArrays]


@dataclass
class SweepResult:
    params: dict
    metrics: dict


_shared: dict = {}  # what forked workers read: candles, signal factory, config


def _run_one(params: dict) -> SweepResult:
    candles, make_signals, config = _shared["candles"], _shared["make_signals"], _shared["config"]
    signals = {market: make_signals(market_candles, params) for market, market_candles in candles.items()}
    result = backtest(candles, signals, config)
    return SweepResult(params=dict(params), metrics=result.metrics)


def sweep_run(
    *,
    candles: Mapping[str, Candles],
    make_signals: SignalFactory,
    param_sets: Sequence[Mapping[str, Any]],
    config: BacktestConfig | None = None,
    processes: int = 2,
) -> list[SweepResult]:
    """Backtest every parameter set; `make_signals(candles, params)` builds one market's signals
    (e.g. lambda candles, params: SomeStrategy(**params).signals(candles))."""
    _shared.update(candles=candles, make_signals=make_signals, config=config or BacktestConfig())
    try:
        if processes <= 1 or len(param_sets) <= 1:
            return [_run_one(dict(params)) for params in param_sets]
        context = multiprocessing.get_context("fork")  # workers inherit the candles, no pickling
        with context.Pool(processes) as pool:
            return pool.map(_run_one, [dict(params) for params in param_sets], chunksize=1)
    finally:
        _shared.clear()
