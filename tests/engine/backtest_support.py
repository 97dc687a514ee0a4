"""Test-local candles and an EMA 12/26 crossover, so the engine tests need no strategy module."""

import numpy as np
import talib

from apps.engine.strategies.base import Candles, SignalArrays, Strategy

MINUTE_MS = 60_000
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def random_walk_candles(
    count: int,
    *,
    seed: int = 7,
    timeframe_ms: int = MINUTE_MS,
    start_ms: int = START_MS,
    volatility: float = 0.002,
    timeframe: str = "1m",
) -> Candles:
    """Seeded random-walk OHLC: each open is the previous close, wicks beyond both."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, count)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, volatility / 2, count)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, volatility / 2, count)))
    time = start_ms + np.arange(count, dtype=np.int64) * timeframe_ms
    return Candles(time, open_, high, low, close, np.ones(count), timeframe)


def candles_from_rows(rows, *, timeframe_ms: int = 3_600_000, timeframe: str = "1h", start_ms: int = START_MS) -> Candles:
    """Candles from (open, high, low, close) rows, one per timeframe."""
    values = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    time = start_ms + np.arange(len(values), dtype=np.int64) * timeframe_ms
    return Candles(time, values[:, 0], values[:, 1], values[:, 2], values[:, 3], np.ones(len(values)), timeframe)


def crossed_above(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """fast was below slow at the previous close and is above it now (NaN never crosses)."""
    above = fast > slow
    below = fast < slow
    return np.concatenate(([False], below[:-1] & above[1:]))


def ema_cross_signals(candles: Candles, fast: int = 12, slow: int = 26, *, shorts: bool = False) -> SignalArrays:
    fast_ema, slow_ema = talib.EMA(candles.close, fast), talib.EMA(candles.close, slow)
    up, down = crossed_above(fast_ema, slow_ema), crossed_above(slow_ema, fast_ema)
    nothing = np.zeros(len(candles), dtype=bool)
    return SignalArrays(
        up, down, down if shorts else nothing, up if shorts else nothing, indicators={"ema_fast": fast_ema, "ema_slow": slow_ema}
    )


def signals_at(count: int, *, entry_long=(), exit_long=(), entry_short=(), exit_short=(), **prices) -> SignalArrays:
    """Signals true at the given candle indices; prices = stop_loss/take_profit {index: price}."""

    def flags(indices):
        values = np.zeros(count, dtype=bool)
        values[list(indices)] = True
        return values

    levels = {}
    for name, at in prices.items():
        values = np.full(count, np.nan)
        for index, price in at.items():
            values[index] = price
        levels[name] = values
    return SignalArrays(flags(entry_long), flags(exit_long), flags(entry_short), flags(exit_short), **levels)


class EmaCrossTestStrategy(Strategy):
    """Long on EMA fast crossing above slow, out on the cross back (test-local)."""

    name = "ema_cross_test"

    @property
    def warmup_period(self) -> int:
        return 26 * 3

    def signals(self, candles: Candles) -> SignalArrays:
        return ema_cross_signals(candles)
