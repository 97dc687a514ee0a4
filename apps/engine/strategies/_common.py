"""Pieces shared by the strategy modules (not a strategy module: the registry skips `_` names)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from apps.engine.strategies.base import Param, SignalArrays

# Recursive averages (EMA, Wilder) never forget their seed; a live window of warmup_period
# candles must give (nearly) the values a full history gives, so warm-up includes enough
# bars for the seed's weight to fall below this fraction.
SEED_WEIGHT_TOLERANCE = 1e-3


def settling_bars(alpha: float) -> int:
    """Bars after which a recursive average's seed weighs less than SEED_WEIGHT_TOLERANCE."""
    return math.ceil(math.log(SEED_WEIGHT_TOLERANCE) / math.log(1.0 - alpha))


def ema_settling(period: int) -> int:
    return settling_bars(2.0 / (period + 1))


def wilder_settling(period: int) -> int:
    return settling_bars(1.0 / period)


def allow_short_param() -> Param:
    return Param("allow_short", bool, False, help="Also open shorts on the mirror-image signal (off: long only).")


def must_be_less(values: dict[str, Any], smaller: str, larger: str) -> dict[str, str]:
    """A cross_check rule: values[smaller] < values[larger]."""
    if values[smaller] < values[larger]:
        return {}
    return {smaller: f"must be less than {larger} ({values[larger]}), got {values[smaller]}"}


def signal_arrays(
    length: int,
    warmup: int,
    *,
    entry_long,
    exit_long,
    entry_short=None,
    exit_short=None,
    indicators: dict[str, np.ndarray],
    **extra,
) -> SignalArrays:
    """SignalArrays with nothing before the warm-up is complete (index warmup - 1 is the first
    bar a live window of warmup candles evaluates), missing sides all False."""

    def after_warmup(flags) -> np.ndarray:
        flags = np.zeros(length, dtype=bool) if flags is None else np.array(flags, dtype=bool)
        flags[: max(warmup - 1, 0)] = False
        return flags

    return SignalArrays(
        entry_long=after_warmup(entry_long),
        exit_long=after_warmup(exit_long),
        entry_short=after_warmup(entry_short),
        exit_short=after_warmup(exit_short),
        indicators=indicators,
        **extra,
    )
