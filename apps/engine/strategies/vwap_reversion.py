"""VWAP mean reversion ("vwap_reversion").

Rules (intent at the close of each candle):
- VWAP of the typical price (h+l+c)/3, anchored at 00:00 UTC each day; deviation =
  close / VWAP - 1. A day the data starts in the middle of has no VWAP (it would be wrong).
- Buy (entry_long) when the close first stretches `deviation` (default 0.002 = 0.2%) or more
  below VWAP within the day (not on every bar it stays there).
- Sell (exit_long) on any close back at or above VWAP.
- With allow_short (default off): short when the close first stretches `deviation` above
  VWAP, cover on any close back at or below VWAP.
Warm-up: 1440 candles, a whole day of 1m candles, so a live window always holds the whole
current day for every timeframe of 1m or more.
"""

from __future__ import annotations

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy

MINUTES_PER_DAY = 1440


class VwapReversionStrategy(Strategy):
    name = "vwap_reversion"
    description = "Buy a stretch below the daily VWAP, sell when price is back at VWAP."
    params_schema = (
        Param(
            "deviation",
            float,
            0.002,
            min=0.0001,
            max=0.5,
            help="How far below (or above) VWAP to trade, as a fraction: 0.002 = 0.2%.",
        ),
        allow_short_param(),
    )

    @property
    def warmup_period(self) -> int:
        return MINUTES_PER_DAY

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        vwap = ind.anchored_vwap(candles.time, candles.high, candles.low, candles.close, candles.volume)
        with np.errstate(invalid="ignore", divide="ignore"):
            deviation = candles.close / vwap - 1.0
        previous = ind.shift(deviation)
        # A new day restarts VWAP: yesterday's deviation says nothing about today's.
        previous[ind.session_starts(np.asarray(candles.time) // ind.DAY_MS)] = np.nan
        stretched_below = deviation <= -p["deviation"]
        stretched_above = deviation >= p["deviation"]
        first_below = stretched_below & ~(previous <= -p["deviation"])
        first_above = stretched_above & ~(previous >= p["deviation"])
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=first_below,
            exit_long=deviation >= 0,
            entry_short=first_above if p["allow_short"] else None,
            exit_short=(deviation <= 0) if p["allow_short"] else None,
            indicators={"vwap": vwap, "vwap_deviation": deviation},
        )
