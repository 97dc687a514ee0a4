"""A deterministic synthetic market: seeded price paths for the simulated exchange and tests.

Every number is a pure function of (seed, symbol, minute), counted from a fixed anchor
(2024-01-01 UTC), so the candle of a given minute is the same after any restart and no
matter which range is asked for.

How a path is built:
- Daily levels: each day has a regime (trend up/down, range, high/low volatility) drawn in
  segments of a few days; the day's log return is drift + vol * shock, and the log level is
  pulled back to the symbol's base price (an Ornstein-Uhlenbeck walk) so prices stay
  "about" the base price for decades.
- Minutes: a Brownian bridge between the day's open and close level, with the day's regime
  volatility, an intraday seasonality (busier around the US open), and rare jumps.
- Inside a minute the price moves linearly open -> high/low -> low/high -> close through
  two knots, so "the price now" is defined at any millisecond and the forming candle's
  high/low never contradict the final candle.
- Volume follows seasonality and the size of the move, times a log-normal noise.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from apps.engine.strategies.base import Candles
from apps.engine.timeframes import timeframe_ms

ANCHOR_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: minute 0 of every path
MINUTE_MS = 60_000
DAY_MINUTES = 1440
DAY_MS = DAY_MINUTES * MINUTE_MS
MAX_DAYS = 20_000  # about 55 years after the anchor


# Regimes: (name, drift per day in units of the symbol's daily vol, volatility multiplier).
REGIMES = (
    ("trend_up", 0.6, 1.0),
    ("trend_down", -0.6, 1.0),
    ("range", 0.0, 0.7),
    ("high_vol", 0.0, 2.2),
    ("low_vol", 0.0, 0.45),
)
REGIME_NAMES = tuple(name for name, _, _ in REGIMES)
_REGIME_DRIFT = np.array([drift for _, drift, _ in REGIMES])
_REGIME_VOL = np.array([vol for _, _, vol in REGIMES])
_MEAN_REGIME_DAYS = 4.0
_MEAN_REVERSION_PER_DAY = 1.0 / 45.0
_JUMP_PROBABILITY = 1.0 / 3000.0  # per minute
_JUMP_SIZE_SIGMAS = 10.0


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    base_price: float
    daily_vol: float  # standard deviation of the daily log return in an ordinary regime
    base_volume: float  # mean volume per minute, in base units


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTC/USDT", 60_000.0, 0.030, 12.0),
    SymbolSpec("ETH/USDT", 3_000.0, 0.040, 180.0),
    SymbolSpec("SOL/USDT", 150.0, 0.055, 2_500.0),
)


def _seasonality(amplitude: float, peak_hour: float) -> np.ndarray:
    """A daily cycle over the 1440 minutes, normalised to a mean square of 1."""
    hours = np.arange(DAY_MINUTES) / 60.0
    cycle = 1.0 + amplitude * np.cos(2 * np.pi * (hours - peak_hour) / 24.0)
    return cycle / np.sqrt(np.mean(cycle**2))


_VOL_SEASON = _seasonality(0.35, 15.0)
_VOLUME_SEASON = _seasonality(0.45, 15.5)


def _ou_walk(returns: np.ndarray, pull: float) -> np.ndarray:
    """Levels x[0]=0, x[n+1] = (1-pull) x[n] + r[n]; vectorised in chunks (no overflow)."""
    phi = 1.0 - pull
    levels = np.zeros(len(returns) + 1)
    chunk = 1000
    powers = phi ** np.arange(1, chunk + 1)
    for start in range(0, len(returns), chunk):
        r = returns[start : start + chunk]
        n = len(r)
        weights = phi ** -np.arange(1, n + 1)  # at most phi^-1000: safely finite
        levels[start + 1 : start + n + 1] = powers[:n] * (levels[start] + np.cumsum(r * weights))
    return levels


@dataclass
class _DailyPath:
    regime: np.ndarray  # int index into REGIMES, per day
    log_level: np.ndarray  # log price at each day's open (MAX_DAYS + 1 values)
    vol: np.ndarray  # daily volatility per day


@dataclass
class _Minutes:
    """Minute arrays for whole days, shaped (days, 1440)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    knot_a: np.ndarray  # fraction of the minute at which the first extreme is reached
    knot_b: np.ndarray  # ... the second extreme
    high_first: np.ndarray  # bool: the high comes before the low


class MarketSim:
    """Deterministic candles for a set of symbols. Times are ms UTC; prices are floats."""

    def __init__(self, *, seed: int, symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS, cache_days: int = 16):
        self.seed = int(seed)
        self.specs = {spec.symbol: spec for spec in symbols}
        self._daily: dict[str, _DailyPath] = {}
        self._day_cache: OrderedDict[tuple[str, int], _Minutes] = OrderedDict()
        self._cache_days = cache_days

    @property
    def symbols(self) -> list[str]:
        return list(self.specs)

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.specs[symbol]
        except KeyError:
            raise ValueError(f"unknown symbol {symbol!r}; the market has {', '.join(self.specs)}") from None

    # ---- daily structure -------------------------------------------------------------------

    def _symbol_key(self, symbol: str) -> int:
        return zlib.crc32(symbol.encode())

    def daily_path(self, symbol: str) -> _DailyPath:
        path = self._daily.get(symbol)
        if path is None:
            path = self._daily[symbol] = self._daily_path_build(self.spec(symbol))
        return path

    def _daily_path_build(self, spec: SymbolSpec) -> _DailyPath:
        rng = np.random.default_rng([self.seed, self._symbol_key(spec.symbol), 0])
        lengths = 1 + rng.geometric(1.0 / _MEAN_REGIME_DAYS, size=MAX_DAYS)
        kinds = rng.integers(0, len(REGIMES), size=MAX_DAYS)
        regime = np.repeat(kinds, lengths)[:MAX_DAYS]
        vol = spec.daily_vol * _REGIME_VOL[regime]
        returns = _REGIME_DRIFT[regime] * spec.daily_vol + vol * rng.standard_normal(MAX_DAYS)
        log_level = np.log(spec.base_price) + _ou_walk(returns, _MEAN_REVERSION_PER_DAY)
        return _DailyPath(regime=regime, log_level=log_level, vol=vol)

    def regime_at(self, symbol: str, t_ms: int) -> str:
        return REGIME_NAMES[self.daily_path(symbol).regime[self._day_index(t_ms)]]

    # ---- minutes ---------------------------------------------------------------------------

    @staticmethod
    def _day_index(t_ms: int) -> int:
        day = (int(t_ms) - ANCHOR_MS) // DAY_MS
        if day < 0 or day >= MAX_DAYS:
            raise ValueError("the simulated market starts on 2024-01-01 UTC and lasts about 55 years")
        return day

    def _minutes_build(self, symbol: str, first_day: int, last_day: int) -> _Minutes:
        """Minutes of days first_day..last_day inclusive; one seeded generator per day."""
        spec, daily = self.spec(symbol), self.daily_path(symbol)
        days = np.arange(first_day, last_day + 1)
        n = len(days)
        normals = np.empty((n, 4, DAY_MINUTES))
        uniforms = np.empty((n, 4, DAY_MINUTES))
        key = self._symbol_key(symbol)
        for i, day in enumerate(days):
            rng = np.random.default_rng([self.seed, key, 1, int(day)])
            rng.standard_normal(out=normals[i])
            rng.random(out=uniforms[i])
        sigma = (daily.vol[days] / np.sqrt(DAY_MINUTES))[:, None] * _VOL_SEASON[None, :]
        jumps = np.where(uniforms[:, 0] < _JUMP_PROBABILITY, normals[:, 1] * sigma * _JUMP_SIZE_SIGMAS, 0.0)
        returns = sigma * normals[:, 0] + jumps
        log_close = self._bridge(returns, daily.log_level[days], daily.log_level[days + 1])
        log_open = np.concatenate([daily.log_level[days][:, None], log_close[:, :-1]], axis=1)
        wick = np.abs(normals[:, 2:4]) * sigma[:, None, :] * 0.6
        open_, close = np.exp(log_open), np.exp(log_close)
        high = np.maximum(open_, close) * np.exp(wick[:, 0])
        low = np.minimum(open_, close) * np.exp(-wick[:, 1])
        volume = self._volume(spec, returns, sigma, daily.regime[days], normals[:, 3], uniforms[:, 3])
        return _Minutes(
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            knot_a=0.1 + 0.35 * uniforms[:, 1],
            knot_b=0.55 + 0.35 * uniforms[:, 2],
            high_first=uniforms[:, 3] < 0.5,
        )

    @staticmethod
    def _bridge(returns: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Log closes of each minute: a random walk pinned to the day's open and close level."""
        walk = np.cumsum(returns, axis=1)
        fraction = np.arange(1, DAY_MINUTES + 1) / DAY_MINUTES
        pinned = walk - fraction[None, :] * walk[:, -1:] + fraction[None, :] * (end - start)[:, None]
        return start[:, None] + pinned

    @staticmethod
    def _volume(spec, returns, sigma, regime, normals, uniforms) -> np.ndarray:
        move = np.abs(returns) / sigma  # in sigmas: big moves trade more
        regime_activity = np.sqrt(_REGIME_VOL[regime])[:, None]
        noise = np.exp(0.45 * (normals * 0.5 + (uniforms - 0.5)) - 0.05)
        return spec.base_volume * _VOLUME_SEASON[None, :] * regime_activity * (0.4 + 0.6 * move) * noise

    def _day(self, symbol: str, day: int) -> _Minutes:
        key = (symbol, day)
        minutes = self._day_cache.get(key)
        if minutes is None:
            minutes = self._minutes_build(symbol, day, day)
            self._day_cache[key] = minutes
            while len(self._day_cache) > self._cache_days:
                self._day_cache.popitem(last=False)
        else:
            self._day_cache.move_to_end(key)
        return minutes

    # ---- public reads ----------------------------------------------------------------------

    def candles_1m(self, symbol: str, start_ms: int, end_ms: int) -> Candles:
        """Closed-form 1m candles whose open time is in [start_ms, end_ms), oldest first."""
        first = -(-(int(start_ms) - ANCHOR_MS) // MINUTE_MS)  # first whole minute >= start
        last = -(-(int(end_ms) - ANCHOR_MS) // MINUTE_MS)  # exclusive
        if last <= first:
            return _empty_candles("1m")
        first_day, last_day = self._day_index(ANCHOR_MS + first * MINUTE_MS), (last - 1) // DAY_MINUTES
        self._day_index(ANCHOR_MS + (last - 1) * MINUTE_MS)
        block = self._minutes_build(symbol, first_day, last_day)
        lo, hi = first - first_day * DAY_MINUTES, last - first_day * DAY_MINUTES
        flat = {name: getattr(block, name).reshape(-1)[lo:hi] for name in ("open", "high", "low", "close", "volume")}
        times = ANCHOR_MS + np.arange(first, last, dtype=np.int64) * MINUTE_MS
        return Candles(times, flat["open"], flat["high"], flat["low"], flat["close"], flat["volume"], "1m")

    def candles(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Candles:
        """Closed candles of the timeframe with open time in [start_ms, end_ms) (aligned to UTC)."""
        step = timeframe_ms(timeframe)
        start = -(-int(start_ms) // step) * step
        end = -(-int(end_ms) // step) * step
        return candles_aggregate(self.candles_1m(symbol, start, end), timeframe)

    def _knots(self, symbol: str, t_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """The minute's path as knot times (fractions 0..1) and prices."""
        day = self._day_index(t_ms)
        minutes = self._day(symbol, day)
        i = (int(t_ms) - ANCHOR_MS - day * DAY_MS) // MINUTE_MS
        first, second = minutes.high[0, i], minutes.low[0, i]
        if not minutes.high_first[0, i]:
            first, second = second, first
        times = np.array([0.0, minutes.knot_a[0, i], minutes.knot_b[0, i], 1.0])
        prices = np.array([minutes.open[0, i], first, second, minutes.close[0, i]])
        return times, prices

    def price_at(self, symbol: str, t_ms: int) -> float:
        """The traded price at this millisecond (inside the forming minute's path)."""
        times, prices = self._knots(symbol, t_ms)
        fraction = (int(t_ms) % MINUTE_MS) / MINUTE_MS
        return float(np.interp(fraction, times, prices))

    def candle_forming(self, symbol: str, t_ms: int) -> tuple[int, float, float, float, float, float]:
        """(open time, o, h, l, c, v) of the 1m candle that is forming at t_ms."""
        times, prices = self._knots(symbol, t_ms)
        fraction = (int(t_ms) % MINUTE_MS) / MINUTE_MS
        now = float(np.interp(fraction, times, prices))
        seen = np.append(prices[times <= fraction], now)
        day = self._day_index(t_ms)
        i = (int(t_ms) - ANCHOR_MS - day * DAY_MS) // MINUTE_MS
        volume = float(self._day(symbol, day).volume[0, i]) * fraction
        open_time = int(t_ms) - int(t_ms) % MINUTE_MS
        return open_time, float(prices[0]), float(seen.max()), float(seen.min()), now, volume

    def price_range(self, symbol: str, start_ms: int, end_ms: int) -> tuple[float, float]:
        """(lowest, highest) traded price over [start_ms, end_ms]: for resting limit orders."""
        start_ms, end_ms = int(start_ms), int(end_ms)
        if end_ms < start_ms:
            raise ValueError("end before start")
        lows, highs = [], []
        for edge in {start_ms, end_ms}:
            price = self.price_at(symbol, edge)
            lows.append(price)
            highs.append(price)
        first_minute = start_ms - start_ms % MINUTE_MS
        inner = self.candles_1m(symbol, first_minute, end_ms + 1)
        whole = (inner.time >= start_ms) & (inner.time + MINUTE_MS <= end_ms)
        lows.extend(inner.low[whole])
        highs.extend(inner.high[whole])
        for open_time in inner.time[~whole]:  # at most the two edge minutes
            times, prices = self._knots(symbol, int(open_time))
            at = open_time + times * MINUTE_MS
            inside = (at >= start_ms) & (at <= end_ms)
            lows.extend(prices[inside])
            highs.extend(prices[inside])
        return float(min(lows)), float(max(highs))


def _empty_candles(timeframe: str) -> Candles:
    empty = np.empty(0)
    return Candles(np.empty(0, dtype=np.int64), empty, empty.copy(), empty.copy(), empty.copy(), empty.copy(), timeframe)


def candles_aggregate(candles: Candles, timeframe: str) -> Candles:
    """Aggregate consecutive 1m candles into UTC-aligned buckets (a partial bucket stays partial)."""
    step = timeframe_ms(timeframe)
    if len(candles) == 0:
        return _empty_candles(timeframe)
    bucket = candles.time // step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    return Candles(
        time=bucket[starts] * step,
        open=candles.open[starts],
        high=np.maximum.reduceat(candles.high, starts),
        low=np.minimum.reduceat(candles.low, starts),
        close=candles.close[ends],
        volume=np.add.reduceat(candles.volume, starts),
        timeframe=timeframe,
    )
