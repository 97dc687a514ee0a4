"""RSI reversal ("rsi").

Rules (intent at the close of each candle):
- Wilder RSI over `period` closes (default 14).
- Buy (entry_long) when RSI crosses back ABOVE `oversold` (default 30): it was <= 30 on the
  previous close and is > 30 now.
- Sell (exit_long) when RSI crosses back BELOW `overbought` (default 70).
- With allow_short (default off): short on the cross below overbought, cover on the cross
  above oversold.
Warm-up: period + the bars for Wilder smoothing to forget its seed (< 0.1%) + 2 for the cross.
"""

from __future__ import annotations

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, must_be_less, signal_arrays, wilder_settling
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy


class RsiStrategy(Strategy):
    name = "rsi"
    description = "Buy when RSI crosses back above oversold, sell when it crosses back below overbought."
    params_schema = (
        Param("period", int, 14, min=2, max=500, help="RSI length in candles."),
        Param("oversold", float, 30.0, min=1, max=99, help="Buy when RSI crosses back above this level."),
        Param("overbought", float, 70.0, min=1, max=99, help="Sell when RSI crosses back below this level."),
        allow_short_param(),
    )

    @classmethod
    def cross_check(cls, values):
        return must_be_less(values, "oversold", "overbought")

    @property
    def warmup_period(self) -> int:
        period = self.params["period"]
        return period + wilder_settling(period) + 2

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        rsi = ind.rsi(candles.close, p["period"])
        back_above_oversold = ind.crossed_above(rsi, p["oversold"])
        back_below_overbought = ind.crossed_below(rsi, p["overbought"])
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=back_above_oversold,
            exit_long=back_below_overbought,
            entry_short=back_below_overbought if p["allow_short"] else None,
            exit_short=back_above_oversold if p["allow_short"] else None,
            indicators={"rsi": rsi},
        )
