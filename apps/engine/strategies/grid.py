"""Grid trading, long only ("grid"): buys as the price falls through its lines, sells when it
rises through one.

Rules (intent at the close of each candle):
- `levels` (default 10) price lines evenly spaced from `low` (default 100) to `high`
  (default 200), both included: set low/high to the range of your market.
- The inventory the grid wants is a pure function of the close, never of the path: one unit
  (1 / levels of the allocation) for each line strictly above the close. At or above `high`
  it wants nothing, below `low` all `levels` units. A close exactly on a line does not count
  that line. indicators["grid_lines_above"] is that count, indicators["grid_target"] the
  wanted inventory as a fraction of the allocation.
- Buy (entry_long): the close is below a line the previous close was at or above, i.e. the
  count of lines above went up. `size` is the units of the lines crossed on that candle,
  (lines above now - lines above before) / levels of the allocation: one unit per line down.
- Sell (exit_long): the close is at or above a line the previous close was below.
- A close that stays between the same two lines does nothing.

What the engines can do with this (honestly):
- Neither the backtest nor the live order path sells part of a position: an exit closes all
  of it. So the grid takes its whole inventory off at the first line crossed back up, not
  one unit per line.
- Live and backtest both hold one position per market and ignore (live: refuse, with the
  reason) an entry while it is open: the grid holds the units of its first buy until the next
  sell, and live holds exactly what the backtest holds (tests/strategies parity tests).
- No stop: below `low` the grid holds what it bought (use risk limits).

Warm-up: 2 candles. Every signal reads only its own close and the previous one, so a live
window of 2 candles decides the last candle exactly as the whole history does.
"""

from __future__ import annotations

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import must_be_less, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class GridStrategy(Strategy):
    name = "grid"
    description = "Buy one unit for each grid line the price falls through; sell on a line crossed back up (long only)."
    params_schema = (
        Param("low", float, 100.0, min=0, help="Lowest grid line (price)."),
        Param("high", float, 200.0, min=0, help="Highest grid line (price)."),
        Param("levels", int, 10, min=2, max=200, help="Number of grid lines, low and high included."),
    )

    @classmethod
    def cross_check(cls, values):
        return must_be_less(values, "low", "high")

    @property
    def warmup_period(self) -> int:
        return 2

    def lines(self) -> np.ndarray:
        return np.linspace(self.params["low"], self.params["high"], self.params["levels"])

    def signals(self, candles: Candles) -> SignalArrays:
        levels = self.params["levels"]
        above = _lines_above(self.lines(), candles.close)
        crossed = above - ind.shift(above)  # NaN on the first candle: nothing to compare with
        bought = crossed > 0
        size = np.where(bought, crossed / levels, np.nan)
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=bought,
            exit_long=crossed < 0,
            size=size,
            indicators={"grid_lines_above": above, "grid_target": above / levels},
        )


def _lines_above(lines: np.ndarray, close: np.ndarray) -> np.ndarray:
    """How many lines lie strictly above each close (a close on a line is not under it).
    Compared with the line prices themselves, so no rounding of (close - low) / step can
    put a close on the wrong side of a line."""
    at_or_below = np.searchsorted(lines, close, side="right")
    return (len(lines) - at_or_below).astype(np.float64)
