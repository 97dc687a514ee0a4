"""Multi-timeframe trend filter ("mtf_trend"): 15m EMA-cross entries taken only with the 4h trend.

Rules (intent at the close of each entry candle):
- Trend: the last CLOSED `trend_timeframe` candle (default 4h) closed above its EMA of
  `trend_period` (default 50) closes. A 4h candle counts only once it has closed (its
  open time + 4h <= this candle's close time), through timeframes.informative_align.
- Buy (entry_long) when the fast EMA (default 9) of the entry candles crosses above the slow
  EMA (default 21) while the trend is up.
- Sell (exit_long) when the fast EMA crosses below the slow EMA, or when the trend turns down.
- With allow_short (default off), the mirror image with a down trend.
The candles must be of `entry_timeframe` (default 15m) and carry `trend_timeframe` candles in
Candles.informative covering the same span of time (a live loader fetches both for the window).
Warm-up, in entry candles: enough for the slow EMA and for the trend EMA (converted from
trend candles, + one trend candle for it to close), whichever is longer.
"""

from __future__ import annotations

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, ema_settling, must_be_less, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy
from apps.engine.strategies.timeframes import informative_align
from apps.engine.timeframes import timeframe_ms

ENTRY_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h")
TREND_TIMEFRAMES = ("1h", "2h", "4h", "6h", "8h", "12h", "1d")


class MtfTrendStrategy(Strategy):
    name = "mtf_trend"
    description = "EMA-cross entries on the entry timeframe, only in the direction of a higher-timeframe EMA trend."
    params_schema = (
        Param("entry_timeframe", str, "15m", choices=ENTRY_TIMEFRAMES, help="Timeframe of the candles traded."),
        Param("trend_timeframe", str, "4h", choices=TREND_TIMEFRAMES, help="Higher timeframe of the trend filter."),
        Param("trend_period", int, 50, min=2, max=500, help="Trend EMA length, in trend candles."),
        Param("fast", int, 9, min=2, max=500, help="Fast EMA length, in entry candles."),
        Param("slow", int, 21, min=3, max=1000, help="Slow EMA length, in entry candles; more than fast."),
        allow_short_param(),
    )

    @classmethod
    def cross_check(cls, values):
        errors = must_be_less(values, "fast", "slow")
        if timeframe_ms(values["trend_timeframe"]) <= timeframe_ms(values["entry_timeframe"]):
            errors["trend_timeframe"] = (
                f"must be longer than entry_timeframe ({values['entry_timeframe']}), got {values['trend_timeframe']}"
            )
        return errors

    def informative_timeframes(self) -> tuple[str, ...]:
        return (self.params["trend_timeframe"],)

    @property
    def warmup_period(self) -> int:
        p = self.params
        entry_warmup = p["slow"] + ema_settling(p["slow"]) + 1
        trend_candles = p["trend_period"] + ema_settling(p["trend_period"]) + 3
        per_trend_candle = -(-timeframe_ms(p["trend_timeframe"]) // timeframe_ms(p["entry_timeframe"]))
        return max(entry_warmup, trend_candles * per_trend_candle)

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        trend_candles = self._trend_candles(candles)
        trend_ema = ind.ema(trend_candles.close, p["trend_period"])
        trend_close = informative_align(candles, trend_candles, trend_candles.close)
        trend_ema = informative_align(candles, trend_candles, trend_ema)
        up, down = trend_close > trend_ema, trend_close < trend_ema
        fast, slow = ind.ema(candles.close, p["fast"]), ind.ema(candles.close, p["slow"])
        golden, death = ind.crossed_above(fast, slow), ind.crossed_below(fast, slow)
        was_up, was_down = np.r_[False, up[:-1]], np.r_[False, down[:-1]]
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=golden & up,
            exit_long=death | (was_up & ~up),
            entry_short=(death & down) if p["allow_short"] else None,
            exit_short=(golden | (was_down & ~down)) if p["allow_short"] else None,
            indicators={"ema_fast": fast, "ema_slow": slow, "trend_close": trend_close, "trend_ema": trend_ema},
        )

    def _trend_candles(self, candles: Candles) -> Candles:
        p = self.params
        if candles.timeframe != p["entry_timeframe"]:
            raise ValueError(f"mtf_trend is set for {p['entry_timeframe']} candles but was given {candles.timeframe} candles")
        trend = candles.informative.get(p["trend_timeframe"])
        if trend is None:
            raise ValueError(f"mtf_trend needs {p['trend_timeframe']} candles in candles.informative")
        return trend
