"""SMA crossover ("sma_cross").

Rules (intent at the close of each candle):
- Buy (entry_long) when the fast SMA (default 20) crosses above the slow SMA (default 50).
- Sell (exit_long) when the fast SMA crosses below the slow SMA.
- With allow_short (default off): short on the cross below, cover on the cross above.
fast must be less than slow. Warm-up: slow + 1 candles (the cross needs the previous bar).
"""

from __future__ import annotations

from apps.engine import indicators as ind
from apps.engine.strategies._common import allow_short_param
from apps.engine.strategies._crossover import _MovingAverageCross
from apps.engine.strategies.base import Param


class SmaCrossStrategy(_MovingAverageCross):
    name = "sma_cross"
    description = "Buy when the fast SMA crosses above the slow SMA, sell when it crosses below."
    params_schema = (
        Param("fast", int, 20, min=2, max=1000, help="Fast SMA length in candles."),
        Param("slow", int, 50, min=3, max=2000, help="Slow SMA length in candles; more than fast."),
        allow_short_param(),
    )
    average = staticmethod(ind.sma)
    short_name = "sma"

    @property
    def warmup_period(self) -> int:
        return self.params["slow"] + 1
