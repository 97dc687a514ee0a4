"""MACD histogram ("macd").

Rules (intent at the close of each candle):
- MACD line = EMA(fast, default 12) - EMA(slow, default 26) of closes; signal line = EMA(signal,
  default 9) of the MACD line; histogram = MACD line - signal line.
- Buy (entry_long) when the histogram turns positive (<= 0 on the previous close, > 0 now).
- Sell (exit_long) when it turns negative (>= 0 before, < 0 now).
- With allow_short (default off): short when it turns negative, cover when it turns positive.
fast must be less than slow. Nothing fires before the warm-up: slow + signal - 1 for the
first histogram value, + the bars for both EMAs to forget their seeds (< 0.1%), + 1 for the cross.
"""

from __future__ import annotations

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, ema_settling, must_be_less, signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class MacdStrategy(Strategy):
    name = "macd"
    description = "Buy when the MACD histogram turns positive, sell when it turns negative."
    params_schema = (
        Param("fast", int, 12, min=2, max=500, help="Fast EMA length in candles."),
        Param("slow", int, 26, min=3, max=1000, help="Slow EMA length in candles; more than fast."),
        Param("signal", int, 9, min=1, max=500, help="Signal-line EMA length in candles."),
        allow_short_param(),
    )

    @classmethod
    def cross_check(cls, values):
        return must_be_less(values, "fast", "slow")

    @property
    def warmup_period(self) -> int:
        slow, signal = self.params["slow"], self.params["signal"]
        settling = ema_settling(slow) + (ema_settling(signal) if signal > 1 else 0)
        return slow + signal + settling

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        line, signal_line, histogram = ind.macd(candles.close, p["fast"], p["slow"], p["signal"])
        turns_positive = ind.crossed_above(histogram, 0.0)
        turns_negative = ind.crossed_below(histogram, 0.0)
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=turns_positive,
            exit_long=turns_negative,
            entry_short=turns_negative if p["allow_short"] else None,
            exit_short=turns_positive if p["allow_short"] else None,
            indicators={"macd": line, "macd_signal": signal_line, "macd_histogram": histogram},
        )
