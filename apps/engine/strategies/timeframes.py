"""Timeframes and informative (higher-timeframe) candles: the one place both backtest and live
use to show a strategy a higher timeframe without looking ahead.

A higher-timeframe candle is visible to a base candle only once it has CLOSED:
its open_time + its period <= the base candle's close time (open_time + base period).
"""

from __future__ import annotations

import numpy as np

from apps.engine.strategies.base import Candles
from apps.engine.timeframes import timeframe_ms


def informative_align(base: Candles, informative: Candles, values: np.ndarray) -> np.ndarray:
    """`values` (one per informative candle) seen from each base candle: the value of the latest
    informative candle that has closed by the base candle's close, NaN before the first one."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) != len(informative):
        raise ValueError(f"{len(values)} values for {len(informative)} {informative.timeframe} candles")
    informative_close = informative.time + timeframe_ms(informative.timeframe)
    base_close = base.time + timeframe_ms(base.timeframe)
    latest = np.searchsorted(informative_close, base_close, side="right") - 1
    aligned = np.full(len(base), np.nan)
    visible = latest >= 0
    aligned[visible] = values[latest[visible]]
    return aligned


def candles_resample(candles: Candles, timeframe: str) -> Candles:
    """Aggregate candles into a higher timeframe (buckets aligned to the epoch, UTC), keeping
    only complete buckets: a bucket missing candles (the data's first or last, or a gap)
    would show an open, high or low the exchange never printed for that period."""
    base_ms, target_ms = timeframe_ms(candles.timeframe), timeframe_ms(timeframe)
    if target_ms % base_ms or target_ms <= base_ms:
        raise ValueError(f"cannot build {timeframe} candles from {candles.timeframe}: not a whole multiple")
    if not len(candles):
        empty = np.array([], dtype=np.float64)
        return Candles(np.array([], dtype=np.int64), empty, empty, empty, empty, empty, timeframe)
    bucket = candles.time // target_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.append(starts, len(candles)))
    complete = counts == target_ms // base_ms
    ends = starts + counts - 1
    return Candles(
        time=(bucket[starts] * target_ms)[complete],
        open=candles.open[starts][complete],
        high=np.maximum.reduceat(candles.high, starts)[complete],
        low=np.minimum.reduceat(candles.low, starts)[complete],
        close=candles.close[ends][complete],
        volume=np.add.reduceat(candles.volume, starts)[complete],
        timeframe=timeframe,
    )
