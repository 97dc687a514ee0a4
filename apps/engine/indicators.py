"""Technical indicators over float64 numpy arrays.

Every function takes arrays of one length (oldest first) and returns float64 arrays of that
length, NaN during warm-up. Value i only uses inputs 0..i, so computing on a prefix gives
the same values as computing on the whole series and slicing (tests enforce it).

Where TA-Lib has the indicator we wrap it (same numbers as every TA-Lib user); anchored
VWAP, the rolling volume profile and cumulative volume delta are vectorised numpy here.
"""

from __future__ import annotations

import numpy as np
import talib

DAY_MS = 86_400_000

# Prices processed at once by the volume profile: small enough to stay in the CPU cache
# (measured: ~2x faster than chunks of a few MB).
_PROFILE_CHUNK_PRICES = 32_768


def as_float64(values, *, name: str = "values") -> np.ndarray:
    """A contiguous float64 1-D array (TA-Lib refuses anything else)."""
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got {array.ndim} dimensions")
    return array


def _columns(**named) -> list[np.ndarray]:
    arrays = [as_float64(values, name=name) for name, values in named.items()]
    lengths = {name: len(array) for name, array in zip(named, arrays)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"input arrays must have the same length, got {lengths}")
    return arrays


def _check_period(period, *, name: str = "period", minimum: int = 1) -> int:
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < minimum:
        raise ValueError(f"{name} must be a whole number of candles >= {minimum}, got {period!r}")
    return int(period)


def _all_nan(length: int) -> np.ndarray:
    return np.full(length, np.nan)


# --- TA-Lib wrappers ---------------------------------------------------------------------


def sma(values, period: int) -> np.ndarray:
    """Simple moving average of the last `period` values."""
    return talib.SMA(as_float64(values), _check_period(period, minimum=2))


def ema(values, period: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA of the
    first `period` values (TA-Lib's classic seeding)."""
    return talib.EMA(as_float64(values), _check_period(period, minimum=2))


def rsi(close, period: int = 14) -> np.ndarray:
    """Wilder's relative strength index (0..100); first value at index `period`."""
    return talib.RSI(as_float64(close, name="close"), _check_period(period, minimum=2))


def macd(close, fast: int = 12, slow: int = 26, signal: int = 9):
    """(macd line, signal line, histogram); all NaN until the signal line exists
    (index slow + signal - 2)."""
    return talib.MACD(
        as_float64(close, name="close"),
        fastperiod=_check_period(fast, name="fast", minimum=2),
        slowperiod=_check_period(slow, name="slow", minimum=2),
        signalperiod=_check_period(signal, name="signal"),
    )


def bollinger(close, period: int = 20, stddev: float = 2.0):
    """(upper, middle, lower): SMA +/- stddev * population standard deviation of the window."""
    if not stddev > 0:
        raise ValueError(f"stddev must be positive, got {stddev!r}")
    return talib.BBANDS(
        as_float64(close, name="close"),
        timeperiod=_check_period(period, minimum=2),
        nbdevup=float(stddev),
        nbdevdn=float(stddev),
        matype=0,
    )


def atr(high, low, close, period: int = 14) -> np.ndarray:
    """Wilder's average true range."""
    high, low, close = _columns(high=high, low=low, close=close)
    return talib.ATR(high, low, close, _check_period(period))


def adx(high, low, close, period: int = 14) -> np.ndarray:
    """Wilder's average directional index (0..100)."""
    high, low, close = _columns(high=high, low=low, close=close)
    return talib.ADX(high, low, close, _check_period(period, minimum=2))


def highest(values, period: int) -> np.ndarray:
    """Highest value of the last `period` values, this one included."""
    return talib.MAX(as_float64(values), _check_period(period))


def lowest(values, period: int) -> np.ndarray:
    """Lowest value of the last `period` values, this one included."""
    return talib.MIN(as_float64(values), _check_period(period))


def donchian(high, low, period: int = 20):
    """(upper, middle, lower) Donchian channel over the last `period` candles, this one included.
    Breakout rules compare a close with the PREVIOUS channel (see `shift`)."""
    high, low = _columns(high=high, low=low)
    upper, lower = highest(high, period), lowest(low, period)
    return upper, (upper + lower) / 2.0, lower


def obv(close, volume) -> np.ndarray:
    """On-balance volume, starting at volume[0] (a running total: compare changes, not levels)."""
    close, volume = _columns(close=close, volume=volume)
    return talib.OBV(close, volume)


def stochastic(high, low, close, k_period: int = 14, k_smooth: int = 3, d_period: int = 3):
    """(slow %K, slow %D), 0..100, both smoothed with an SMA."""
    high, low, close = _columns(high=high, low=low, close=close)
    return talib.STOCH(
        high,
        low,
        close,
        fastk_period=_check_period(k_period, name="k_period"),
        slowk_period=_check_period(k_smooth, name="k_smooth"),
        slowk_matype=0,
        slowd_period=_check_period(d_period, name="d_period"),
        slowd_matype=0,
    )


# --- Our own ---------------------------------------------------------------------------


def anchored_vwap(
    time, high, low, close, volume, *, anchor_ms: int = DAY_MS, offset_ms: int = 0, skip_partial_first: bool = True
) -> np.ndarray:
    """Volume-weighted average of the typical price (h+l+c)/3, restarted at every anchor
    (each UTC day by default). `time` is candle open time in int64 ms.

    The first session is NaN when the data starts after its anchor (`skip_partial_first`):
    a VWAP missing the session's early volume would differ from the one a full history gives.
    NaN too while a session has traded no volume yet.
    """
    time = np.asarray(time, dtype=np.int64)
    high, low, close, volume = _columns(high=high, low=low, close=close, volume=volume)
    if len(time) != len(close):
        raise ValueError(f"time has {len(time)} items but prices have {len(close)}")
    if len(time) == 0:
        return _all_nan(0)
    session = (time - offset_ms) // anchor_ms
    cum_pv = _cumsum_per_session(session, (high + low + close) / 3.0 * volume)
    cum_v = _cumsum_per_session(session, volume)
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(cum_v > 0, cum_pv / cum_v, np.nan)
    if skip_partial_first and (time[0] - offset_ms) % anchor_ms != 0:
        vwap[session == session[0]] = np.nan
    return vwap


def session_starts(session: np.ndarray) -> np.ndarray:
    """True where a new session (or the data) begins."""
    starts = np.ones(len(session), dtype=bool)
    starts[1:] = session[1:] != session[:-1]
    return starts


def _cumsum_per_session(session: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of `values` that restarts whenever `session` changes."""
    running = np.cumsum(values)
    start_index = np.flatnonzero(session_starts(session))
    before_start = np.where(start_index > 0, running[start_index - 1], 0.0)
    counts = np.diff(np.append(start_index, len(values)))
    return running - np.repeat(before_start, counts)


def volume_profile(price, volume, lookback: int = 100, bins: int = 50, value_area: float = 0.70):
    """Rolling volume profile of the last `lookback` candles, this one included:
    (point of control, value area high, value area low).

    Each window splits its own price range [min, max] into `bins` equal bins and puts each
    candle's volume in the bin of its price. The point of control is the centre of the bin
    with the most volume (lowest price on a tie). The value area is the smallest set of
    highest-volume bins holding at least `value_area` of the volume (ties: lower bin first);
    its high/low are the top/bottom edges of the highest/lowest bin in that set.
    NaN during warm-up (first lookback - 1 candles) and for windows without volume.
    """
    price, volume = _columns(price=price, volume=volume)
    lookback = _check_period(lookback, name="lookback", minimum=2)
    bins = _check_period(bins, name="bins", minimum=2)
    if not 0 < value_area <= 1:
        raise ValueError(f"value_area must be in (0, 1], got {value_area!r}")
    poc, vah, val = _all_nan(len(price)), _all_nan(len(price)), _all_nan(len(price))
    if len(price) < lookback:
        return poc, vah, val
    price_windows = np.lib.stride_tricks.sliding_window_view(price, lookback)
    volume_windows = np.lib.stride_tricks.sliding_window_view(volume, lookback)
    chunk_rows = max(64, _PROFILE_CHUNK_PRICES // lookback)
    for start in range(0, len(price_windows), chunk_rows):
        rows = slice(start, start + chunk_rows)
        out = slice(start + lookback - 1, start + lookback - 1 + len(price_windows[rows]))
        poc[out], vah[out], val[out] = _profile_windows(price_windows[rows], volume_windows[rows], bins, value_area)
    return poc, vah, val


def _profile_windows(prices: np.ndarray, volumes: np.ndarray, bins: int, value_area: float):
    """Profile of each row (one window per row); returns (poc, vah, val) per row."""
    rows = len(prices)
    low = prices.min(axis=1)
    width = (prices.max(axis=1) - low) / bins
    # A flat window (width 0) has every price at `low`: all volume goes to bin 0.
    divisor = np.where(width > 0, width, 1.0)[:, None]
    # Positions are >= 0, so truncation is floor; the max price lands on `bins`: clamp it.
    bin_index = np.minimum(((prices - low[:, None]) / divisor).astype(np.int64), bins - 1)
    flat = (np.arange(rows)[:, None] * bins + bin_index).ravel()
    histogram = np.bincount(flat, weights=volumes.ravel(), minlength=rows * bins).reshape(rows, bins)
    order = np.argsort(-histogram, axis=1, kind="stable")
    sorted_volume = np.take_along_axis(histogram, order, axis=1)
    running = np.cumsum(sorted_volume, axis=1)
    before, total = running - sorted_volume, running[:, -1]
    # A bin is in the value area while the bins before it hold less than the target.
    in_area = before < (value_area * total)[:, None]
    top_bin = np.where(in_area, order, -1).max(axis=1)
    bottom_bin = np.where(in_area, order, bins).min(axis=1)
    has_volume = total > 0
    poc = np.where(has_volume, low + (order[:, 0] + 0.5) * width, np.nan)
    vah = np.where(has_volume, low + (top_bin + 1) * width, np.nan)
    val = np.where(has_volume, low + bottom_bin * width, np.nan)
    return poc, vah, val


def cumulative_volume_delta(open_, close, volume) -> np.ndarray:
    """Running sum of volume signed by the candle's direction (up +, down -, doji 0).
    A running total from the first candle: compare changes, not levels."""
    open_, close, volume = _columns(open=open_, close=close, volume=volume)
    return np.cumsum(volume * np.sign(close - open_))


# --- Array helpers for signal rules ----------------------------------------------------


def shift(values, periods: int = 1) -> np.ndarray:
    """Values moved `periods` candles later (value i = input i - periods), NaN-filled."""
    values = as_float64(values)
    shifted = _all_nan(len(values))
    if periods < len(values):
        shifted[periods:] = values[: len(values) - periods]
    return shifted


def crossed_above(series, level) -> np.ndarray:
    """True at i when series goes from <= level (at i-1) to > level (at i); NaN never crosses.
    `level` is a number or an array (e.g. another average)."""
    series, now, before = _series_and_level(series, level)
    crossed = np.zeros(len(series), dtype=bool)
    crossed[1:] = (series[1:] > now) & (series[:-1] <= before)
    return crossed


def crossed_below(series, level) -> np.ndarray:
    """True at i when series goes from >= level (at i-1) to < level (at i); NaN never crosses."""
    series, now, before = _series_and_level(series, level)
    crossed = np.zeros(len(series), dtype=bool)
    crossed[1:] = (series[1:] < now) & (series[:-1] >= before)
    return crossed


def _series_and_level(series, level):
    """(series, level at 1..n-1, level at 0..n-2); a scalar level stays a scalar (no array)."""
    series = as_float64(series, name="series")
    if np.ndim(level) == 0:
        return series, float(level), float(level)
    series, level = _columns(series=series, level=level)
    return series, level[1:], level[:-1]
