"""Bias checks for a strategy: does it look ahead, and does it depend on how much history it saw?

Both checks run the strategy's own vectorised `signals()` many times on cut copies of one
history and compare the columns (the four flags, stop/target/size prices, every indicator):

- Look-ahead: for every cut point c from the first decidable bar to the end, the signals of
  candles[:c] must equal the full history's signals on bars 0..c-1. A value at bar i that
  changes when candles after i are removed was computed from the future. Every bar is the
  last bar of one cut, so the check is exhaustive; higher timeframes are rebuilt from the
  cut candles only, as a live loader would have them.
- Recursive: for many start offsets s, the indicators of candles[s:] must equal the full
  history's from bar s + warmup_period - 1 on, within the strategy's declared
  `recursive_tolerance` (relative to the column's largest magnitude). Recursive averages
  never quite forget their seed; a running maximum over all history never does.

A failure names the first bar (index and time) and the column that differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from apps.engine.metrics import iso_time
from apps.engine.strategies.base import Candles, SignalArrays, Strategy
from apps.engine.strategies.timeframes import candles_resample
from apps.engine.timeframes import timeframe_ms

LOOK_AHEAD, RECURSIVE = "look-ahead", "recursive"
FLAG_COLUMNS = ("entry_long", "exit_long", "entry_short", "exit_short")
PRICE_COLUMNS = ("stop_loss", "take_profit", "size")
# A prefix is the same arithmetic on the same numbers; only the last bits may differ
# (e.g. a running sum computed in another order).
PREFIX_RTOL = 1e-9
DEFAULT_START_OFFSETS = 24


@dataclass(frozen=True)
class BiasFinding:
    check: str  # LOOK_AHEAD or RECURSIVE
    column: str
    bar: int
    time_ms: int
    full_value: float
    other_value: float
    history: str  # which other history disagreed, in words

    def __str__(self) -> str:
        return (
            f"{self.check}: column {self.column} differs first at bar {self.bar} ({iso_time(self.time_ms)}): "
            f"{self._text(self.full_value)} on the full history, {self._text(self.other_value)} on {self.history}"
        )

    def _text(self, value: float) -> str:
        if np.isnan(value):
            return "none"
        return str(bool(value)) if self.column in FLAG_COLUMNS else f"{value:.10g}"


@dataclass(frozen=True)
class BiasReport:
    strategy: str
    params: dict
    candles: int
    cuts_checked: int
    starts_checked: int
    look_ahead: BiasFinding | None
    recursive: BiasFinding | None

    @property
    def passed(self) -> bool:
        return self.look_ahead is None and self.recursive is None

    @property
    def findings(self) -> list[BiasFinding]:
        return [finding for finding in (self.look_ahead, self.recursive) if finding is not None]


def bias_check(strategy: Strategy, candles: Candles, *, starts: int = DEFAULT_START_OFFSETS) -> BiasReport:
    """Both checks on one history (give it at least warmup_period + a few hundred candles)."""
    if len(candles) <= strategy.warmup_period:
        raise ValueError(
            f"{strategy.name} needs more than its warm-up of {strategy.warmup_period} candles to be checked, got {len(candles)}"
        )
    look_ahead, cuts = look_ahead_check(strategy, candles)
    recursive, offsets = recursive_check(strategy, candles, starts=starts)
    return BiasReport(strategy.name, dict(strategy.params), len(candles), cuts, offsets, look_ahead, recursive)


def look_ahead_check(strategy: Strategy, candles: Candles) -> tuple[BiasFinding | None, int]:
    """The earliest bar whose value changes when later candles are removed; and the cut count."""
    full = signal_columns(strategy.signals(with_informative(strategy, candles)))
    first_cut = max(strategy.warmup_period, 1)
    earliest: BiasFinding | None = None
    for cut in range(first_cut, len(candles)):
        limit = cut if earliest is None else min(cut, earliest.bar)  # only an earlier bar can improve
        cut_columns = signal_columns(strategy.signals(candles_window(strategy, candles, 0, cut)))
        finding = _first_difference(full, cut_columns, offset=0, length=cut, lo=0, hi=limit, rtol=PREFIX_RTOL)
        if finding is not None:
            column, bar = finding
            earliest = _finding(LOOK_AHEAD, column, bar, candles, full, cut_columns, 0, f"the history cut after bar {cut - 1}")
    return earliest, len(candles) - first_cut


def recursive_check(
    strategy: Strategy, candles: Candles, *, starts: int = DEFAULT_START_OFFSETS
) -> tuple[BiasFinding | None, int]:
    """The earliest bar after warm-up whose indicator values depend on where the history starts."""
    full = signal_columns(strategy.signals(with_informative(strategy, candles)))
    numeric = [name for name in full if name not in FLAG_COLUMNS]
    scales = {name: _scale(full[name]) for name in numeric}
    warmup = strategy.warmup_period
    last_start = len(candles) - warmup
    offsets = sorted({int(s) for s in np.linspace(1, last_start, min(starts, last_start))})
    tolerance = float(strategy.recursive_tolerance)
    earliest: BiasFinding | None = None
    for start in offsets:
        shorter = signal_columns(strategy.signals(candles_window(strategy, candles, start, len(candles))))
        lo = start + warmup - 1
        hi = len(candles) if earliest is None else min(len(candles), earliest.bar)
        finding = _first_difference(
            {name: full[name] for name in numeric},
            shorter,
            offset=start,
            length=len(candles) - start,
            lo=lo,
            hi=hi,
            rtol=0.0,
            scales=scales,
            atol=tolerance,
        )
        if finding is not None:
            column, bar = finding
            history = f"the history starting at bar {start}"
            earliest = _finding(RECURSIVE, column, bar, candles, full, shorter, start, history)
    return earliest, len(offsets)


def signal_columns(signals: SignalArrays) -> dict[str, np.ndarray]:
    """Every column a strategy returns, flags first, as float arrays (NaN = none)."""
    columns = {name: np.asarray(getattr(signals, name), dtype=np.float64) for name in FLAG_COLUMNS}
    for name in PRICE_COLUMNS:
        if getattr(signals, name) is not None:
            columns[name] = np.asarray(getattr(signals, name), dtype=np.float64)
    for name, values in signals.indicators.items():
        columns[f"indicator {name}"] = np.asarray(values, dtype=np.float64)
    return columns


def candles_window(strategy: Strategy, candles: Candles, lo: int, hi: int) -> Candles:
    """candles[lo:hi] with the strategy's higher timeframes built from those candles only."""
    window = Candles(
        candles.time[lo:hi],
        candles.open[lo:hi],
        candles.high[lo:hi],
        candles.low[lo:hi],
        candles.close[lo:hi],
        candles.volume[lo:hi],
        candles.timeframe,
    )
    return with_informative(strategy, window)


def with_informative(strategy: Strategy, candles: Candles) -> Candles:
    timeframes = strategy.informative_timeframes()
    if not timeframes:
        return candles
    return replace(candles, informative={tf: candles_resample(candles, tf) for tf in timeframes})


def bias_candles(count: int, *, timeframe: str = "1m", seed: int = 0, start_ms: int = 1_704_067_200_000) -> Candles:
    """A seeded random walk with wicks and volume: enough texture for every rule to fire."""
    rng = np.random.default_rng(seed)
    close = 150.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, 0.003, count)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, 0.003, count)))
    time = start_ms + np.arange(count, dtype=np.int64) * timeframe_ms(timeframe)
    return Candles(time, open_, high, low, close, rng.gamma(2.0, 10.0, count), timeframe)


def _scale(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if len(finite) else 1.0


def _first_difference(full, other, *, offset, length, lo, hi, rtol, scales=None, atol=0.0) -> tuple[str, int] | None:
    """(column, bar) of the earliest disagreement on bars lo..hi-1 (bar numbers of the full
    history; `other` holds `length` bars from bar `offset`). Ties on a bar go to the earlier column."""
    if hi <= lo:
        return None
    best: tuple[int, int, str] | None = None
    for order, (name, values) in enumerate(full.items()):
        theirs = other.get(name)
        a = values[lo:hi]
        if theirs is None or len(theirs) != length:
            return name, lo  # a column missing or of the wrong length differs everywhere
        b = theirs[lo - offset : hi - offset]
        bound = rtol * np.abs(a) + atol * (scales[name] if scales else 1.0)
        differs = (np.isnan(a) != np.isnan(b)) | (np.abs(a - b) > bound)
        hits = np.flatnonzero(differs)
        if len(hits) and (best is None or (lo + hits[0], order) < best[:2]):
            best = (lo + int(hits[0]), order, name)
    return None if best is None else (best[2], best[0])


def _finding(check, column, bar, candles, full, other, offset, history) -> BiasFinding:
    theirs = other.get(column)
    other_value = float(theirs[bar - offset]) if theirs is not None and 0 <= bar - offset < len(theirs) else float("nan")
    return BiasFinding(check, column, bar, int(candles.time[bar]), float(full[column][bar]), other_value, history)
