"""Grid trading, long-only inventory ("grid").

Rules (intent at the close of each candle):
- `levels` (default 10) price lines evenly spaced from `low` (default 100) to `high`
  (default 200): set low/high to the range of your market. Lines 0..levels-2 each hold one
  unit of the grid, i.e. 1 / (levels - 1) of the allocation.
- A close below a line the price was at or above on the previous close buys that line's unit
  (if not already held). A held unit is sold on the first close at or above the next line up.
  So the grid buys a level down and sells a level up; a price between a unit's line and the
  next keeps it.
- entry_long marks a close where the inventory grows, exit_long one where it shrinks; `size`
  on an entry is the inventory the grid wants afterwards as a fraction of the allocation
  (held units / (levels - 1)); NaN elsewhere. The units held after every close are in
  indicators["grid_units"]. An engine that holds one position at a time scales nothing: it
  enters on the first buy and leaves on the first sell.
- No stop: below `low` the grid holds its whole inventory (use risk limits).
The inventory is path dependent: it counts the units bought inside the history it is given.
Warm-up: 2 candles (a line cross needs the previous close).
"""

from __future__ import annotations

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import must_be_less, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class GridStrategy(Strategy):
    name = "grid"
    description = "Buy one unit each grid line down, sell it one line up (long-only inventory)."
    params_schema = (
        Param("low", float, 100.0, min=0, help="Lowest grid line (price)."),
        Param("high", float, 200.0, min=0, help="Highest grid line (price)."),
        Param("levels", int, 10, min=3, max=200, help="Number of grid lines, low and high included."),
    )

    @classmethod
    def cross_check(cls, values):
        return must_be_less(values, "low", "high")

    @property
    def warmup_period(self) -> int:
        return 2

    def signals(self, candles: Candles) -> SignalArrays:
        levels = self.params["levels"]
        step = (self.params["high"] - self.params["low"]) / (levels - 1)
        # Line index at or below each close: close >= line k  <=>  level >= k.
        level = np.floor((candles.close - self.params["low"]) / step)
        units = _grid_units(level, levels)
        previous_units = np.r_[0, units[:-1]]
        grows, shrinks = units > previous_units, units < previous_units
        size = np.where(grows, units / (levels - 1), np.nan)
        return signal_arrays(
            len(candles), self.warmup_period, entry_long=grows, exit_long=shrinks, size=size,
            indicators={"grid_units": units.astype(np.float64), "grid_level": level},
        )


def _grid_units(level: np.ndarray, levels: int) -> np.ndarray:
    """Units held after each close. Each line is a switch: bought when the close drops under
    it from at/above it, sold when a close reaches the next line. The loop runs over lines
    (a few), never over candles."""
    index = np.arange(len(level))
    previous_level = ind.shift(level)
    units = np.zeros(len(level), dtype=np.int64)
    for line in range(levels - 1):
        bought = (level < line) & (previous_level >= line)
        sold = level >= line + 1
        last_buy = np.maximum.accumulate(np.where(bought, index, -1))
        last_sell = np.maximum.accumulate(np.where(sold, index, -1))
        units += last_buy > last_sell
    return units
