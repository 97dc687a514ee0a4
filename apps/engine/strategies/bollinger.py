"""Bollinger Bands re-entry ("bollinger").

Rules (intent at the close of each candle):
- Bands = SMA(period, default 20) +/- stddev (default 2.0) population standard deviations.
  The bands a close is compared with come from the PREVIOUS `period` closes, so a close
  never moves the band it is judged against.
- Buy (entry_long) on re-entry from below: the previous close was below its lower band and
  this close is back at or above its lower band.
- Sell (exit_long) on re-entry from above: the previous close was above its upper band and
  this close is back at or below its upper band.
- Entries need a bandwidth (upper - lower) / middle of at least min_bandwidth (default 0:
  off), to skip dead-flat markets where a tiny wiggle pierces the bands.
- With allow_short (default off): short on re-entry from above, cover on re-entry from below.
Warm-up: period + 2 candles.
"""

from __future__ import annotations

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class BollingerStrategy(Strategy):
    name = "bollinger"
    description = "Buy when price re-enters the Bollinger Bands from below, sell when it re-enters from above."
    params_schema = (
        Param("period", int, 20, min=2, max=1000, help="Band length in candles."),
        Param("stddev", float, 2.0, min=0.1, max=10, help="Band width in standard deviations."),
        Param(
            "min_bandwidth",
            float,
            0.0,
            min=0,
            max=1,
            help="Smallest (upper - lower) / middle that allows an entry, e.g. 0.01 = 1%; 0 = no filter.",
        ),
        allow_short_param(),
    )

    @property
    def warmup_period(self) -> int:
        return self.params["period"] + 2

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        upper, middle, lower = (ind.shift(band) for band in ind.bollinger(candles.close, p["period"], p["stddev"]))
        with np.errstate(invalid="ignore", divide="ignore"):
            bandwidth = (upper - lower) / middle
        wide_enough = bandwidth >= p["min_bandwidth"]
        close, previous_close = candles.close, ind.shift(candles.close)
        back_from_below = (previous_close < ind.shift(lower)) & (close >= lower)
        back_from_above = (previous_close > ind.shift(upper)) & (close <= upper)
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=back_from_below & wide_enough,
            exit_long=back_from_above,
            entry_short=(back_from_above & wide_enough) if p["allow_short"] else None,
            exit_short=back_from_below if p["allow_short"] else None,
            indicators={"bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "bb_bandwidth": bandwidth},
        )
