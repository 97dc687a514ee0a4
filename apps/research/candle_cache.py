"""Candles a worker keeps in memory between trials of a study: each trial backtests the same
span with other params, and reading a million candles from the database costs seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from apps.engine.strategies.base import Candles
from apps.markets.selectors import candles_between
from apps.strategies.backtests.services import candles_slice

MAX_ENTRIES = 8
MIN_MARGIN = timedelta(days=7)
_cache: dict[tuple, tuple[datetime | None, datetime | None, Candles]] = {}
_hashes: dict[tuple, str] = {}


def candles_cached(*, market, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> Candles:
    """As markets.selectors.candles_between, from memory when a wider span is already loaded.
    A stored span covers what it was asked for (start <= open time < end), so any span inside
    it is the same rows as a fresh read."""
    key = (market.pk, timeframe)
    held = _cache.get(key)
    if held is None or not _covers(held[0], held[1], start, end):
        # Trials ask for other warm-ups (longer averages start earlier): read well before.
        wider = None if start is None else start - max((end - start) if end else MIN_MARGIN, MIN_MARGIN)
        lo = wider if held is None else _earlier(wider, held[0])
        hi = end if held is None else _later(end, held[1])
        if len(_cache) >= MAX_ENTRIES:
            _cache.clear()
        _cache[key] = held = (lo, hi, candles_between(market=market, timeframe=timeframe, start=lo, end=hi))
    candles = held[2]
    first = 0 if start is None else int(np.searchsorted(candles.time, _ms(start), side="left"))
    last = len(candles) if end is None else int(np.searchsorted(candles.time, _ms(end), side="left"))
    return candles_slice(candles, first, last)


def span_hash(markets, timeframe: str, start: datetime, end: datetime) -> str:
    """sha256 of the span's candles (as BacktestRun.data_hash), computed once per process."""
    key = (tuple(m.pk for m in markets), timeframe, start, end)
    if key not in _hashes:
        from apps.strategies.backtests.services import data_hash

        _hashes[key] = data_hash({m.symbol: candles_cached(market=m, timeframe=timeframe, start=start, end=end) for m in markets})
    return _hashes[key]


def _covers(lo, hi, start, end) -> bool:
    return (lo is None or (start is not None and lo <= start)) and (hi is None or (end is not None and end <= hi))


def _earlier(a, b):
    return None if a is None or b is None else min(a, b)


def _later(a, b):
    return None if a is None or b is None else max(a, b)


def _ms(moment: datetime) -> int:
    return round(moment.astimezone(UTC).timestamp() * 1000)
