"""Donchian channel breakout ("donchian"), turtle style.

Rules (intent at the close of each candle):
- Buy (entry_long) when the close is above the highest high of the PREVIOUS entry_period
  candles (default 20).
- Sell (exit_long) when the close is below the lowest low of the previous exit_period
  candles (default 10).
- With allow_short (default off): short below the previous entry_period lowest low, cover
  above the previous exit_period highest high.
Warm-up: max(entry_period, exit_period) + 1 candles.
"""

from __future__ import annotations

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class DonchianStrategy(Strategy):
    name = "donchian"
    description = "Buy a close above the previous N-candle high, sell a close below the previous M-candle low."
    params_schema = (
        Param("entry_period", int, 20, min=2, max=1000, help="Breakout channel length in candles."),
        Param("exit_period", int, 10, min=1, max=1000, help="Exit channel length in candles."),
        allow_short_param(),
    )

    @property
    def warmup_period(self) -> int:
        return max(self.params["entry_period"], self.params["exit_period"]) + 1

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        close = candles.close
        entry_high = ind.shift(ind.highest(candles.high, p["entry_period"]))
        entry_low = ind.shift(ind.lowest(candles.low, p["entry_period"]))
        exit_high = ind.shift(ind.highest(candles.high, p["exit_period"]))
        exit_low = ind.shift(ind.lowest(candles.low, p["exit_period"]))
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=close > entry_high,
            exit_long=close < exit_low,
            entry_short=(close < entry_low) if p["allow_short"] else None,
            exit_short=(close > exit_high) if p["allow_short"] else None,
            indicators={"donchian_high": entry_high, "donchian_low": entry_low, "exit_high": exit_high, "exit_low": exit_low},
        )
