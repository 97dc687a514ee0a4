"""Volume profile value-area bounce ("volume_profile").

Rules (intent at the close of each candle):
- Profile of the PREVIOUS `lookback` candles (default 100): their closes' range split into
  `bins` (default 50) equal bins, each candle's volume in the bin of its close. Point of
  control (POC) = the busiest bin; value area = the busiest bins holding `value_area`
  (default 0.70) of the volume, from VAL (its bottom) to VAH (its top).
  See apps.engine.indicators.volume_profile.
- Buy (entry_long) when price bounces back into the value area from below: the previous close
  was under its VAL and this close is at or above VAL but still under the POC.
- Sell (exit_long) on a close at or above the POC (target reached) or back under VAL (the
  bounce failed).
- With allow_short (default off), the mirror image: short on a re-entry from above VAH while
  still over the POC; cover at or below the POC or back above VAH.
Warm-up: lookback + 2 candles.
"""

from __future__ import annotations

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class VolumeProfileStrategy(Strategy):
    name = "volume_profile"
    description = "Buy a bounce back into the value area from below, sell at the point of control."
    params_schema = (
        Param("lookback", int, 100, min=10, max=5000, help="Candles in the profile."),
        Param("bins", int, 50, min=5, max=500, help="Price bins of the profile."),
        Param("value_area", float, 0.70, min=0.1, max=0.99, help="Share of volume in the value area, e.g. 0.70."),
        allow_short_param(),
    )

    @property
    def warmup_period(self) -> int:
        return self.params["lookback"] + 2

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        profile = ind.volume_profile(candles.close, candles.volume, p["lookback"], p["bins"], p["value_area"])
        poc, vah, val = (ind.shift(line) for line in profile)
        close, previous_close = candles.close, ind.shift(candles.close)
        from_below = (previous_close < ind.shift(val)) & (close >= val) & (close < poc)
        from_above = (previous_close > ind.shift(vah)) & (close <= vah) & (close > poc)
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=from_below,
            exit_long=(close >= poc) | (close < val),
            entry_short=from_above if p["allow_short"] else None,
            exit_short=((close <= poc) | (close > vah)) if p["allow_short"] else None,
            indicators={"vp_poc": poc, "vp_vah": vah, "vp_val": val},
        )
