"""EMA crossover ("ema_cross").

Rules (intent at the close of each candle):
- Buy (entry_long) when the fast EMA (default 9) crosses above the slow EMA (default 21).
- Sell (exit_long) when the fast EMA crosses below the slow EMA.
- With allow_short (default off): short on the cross below, cover on the cross above.
fast must be less than slow. Warm-up: slow + the bars for the slow EMA to forget its seed
(< 0.1%) + 1 for the cross.
"""

from __future__ import annotations

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param, ema_settling
from apps.engine.strategies._crossover import _MovingAverageCross
from apps.engine.strategies.base import Param


class EmaCrossStrategy(_MovingAverageCross):
    name = "ema_cross"
    description = "Buy when the fast EMA crosses above the slow EMA, sell when it crosses below."
    params_schema = (
        Param("fast", int, 9, min=2, max=1000, help="Fast EMA length in candles."),
        Param("slow", int, 21, min=3, max=2000, help="Slow EMA length in candles; more than fast."),
        allow_short_param(),
    )
    average = staticmethod(ind.ema)
    short_name = "ema"

    @property
    def warmup_period(self) -> int:
        slow = self.params["slow"]
        return slow + ema_settling(slow) + 1
