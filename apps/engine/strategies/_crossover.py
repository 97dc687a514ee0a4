"""The moving-average crossover shared by ema_cross and sma_cross."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import must_be_less, signal_arrays
from apps.engine.strategies.base import Candles, SignalArrays, Strategy


class _MovingAverageCross(Strategy):
    average: ClassVar[Callable[[np.ndarray, int], np.ndarray]]
    short_name: ClassVar[str]  # "ema" or "sma": names the indicator arrays

    @classmethod
    def cross_check(cls, values):
        return must_be_less(values, "fast", "slow")

    def signals(self, candles: Candles) -> SignalArrays:
        p = self.params
        fast = type(self).average(candles.close, p["fast"])
        slow = type(self).average(candles.close, p["slow"])
        golden = ind.crossed_above(fast, slow)
        death = ind.crossed_below(fast, slow)
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=golden,
            exit_long=death,
            entry_short=death if p["allow_short"] else None,
            exit_short=golden if p["allow_short"] else None,
            indicators={f"{self.short_name}_fast": fast, f"{self.short_name}_slow": slow},
        )
