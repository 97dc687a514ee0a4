"""Pair selection, pure: each market's volatility, volume and risk-adjusted momentum over a
lookback, and its score against the other markets (z-scores across markets, summed with weights).

Per market, from its closes and base volumes (oldest first) on one timeframe:
- volatility: the standard deviation of the log returns, annualised (x sqrt(bars per year));
- volume: the mean quote volume per day (close x base volume, summed, over the days covered),
  compared on a log scale (volumes span orders of magnitude);
- momentum: risk-adjusted, the log return over the lookback divided by the volatility over
  the same bars (log return / (std of log returns x sqrt(bars))), a t-statistic of the trend:
  +2 is a rise twice as large as its own noise, whatever the timeframe.
A figure's z-score is (value - mean of the markets) / their standard deviation; 0 when every
market has the same value (or there is one market). score = the weighted sum of the three
z-scores; rank 1 is the highest score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

YEAR_SECONDS = 365 * 86_400
MIN_BARS = 20
DEFAULT_WEIGHTS = {"volatility": 1.0, "volume": 1.0, "momentum": 1.0}


@dataclass(frozen=True)
class MarketFigures:
    volatility: float  # annualised, a fraction (0.8 = 80 %)
    volume: float  # mean quote volume per day
    momentum: float  # log return / (per-bar std x sqrt(bars))
    bars: int


@dataclass(frozen=True)
class PairScore:
    figures: MarketFigures
    z_volatility: float
    z_volume: float
    z_momentum: float
    score: float
    rank: int


def market_figures(close, volume, *, bar_seconds: int) -> MarketFigures | None:
    """The three figures of one market, or None with fewer than MIN_BARS usable candles."""
    close = np.asarray(close, dtype=np.float64)
    volume = np.asarray(volume, dtype=np.float64)
    usable = np.isfinite(close) & (close > 0) & np.isfinite(volume)
    close, volume = close[usable], volume[usable]
    if len(close) < MIN_BARS:
        return None
    returns = np.diff(np.log(close))
    std = float(returns.std(ddof=1))
    trend = float(np.log(close[-1] / close[0]))
    momentum = trend / (std * math.sqrt(len(returns))) if std > 0 else 0.0
    days = len(close) * bar_seconds / 86_400
    return MarketFigures(
        volatility=std * math.sqrt(YEAR_SECONDS / bar_seconds),
        volume=float((close * volume).sum() / days),
        momentum=momentum,
        bars=len(close),
    )


def zscores(values: np.ndarray) -> np.ndarray:
    std = values.std()
    if not len(values) or std == 0 or not math.isfinite(std):
        return np.zeros(len(values))
    return (values - values.mean()) / std


def pair_scores(figures: Mapping, weights: Mapping[str, float] | None = None) -> dict:
    """key -> PairScore for every market given (key: whatever names a market, e.g. its id)."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    keys = list(figures)
    if not keys:
        return {}
    z_vol = zscores(np.array([figures[k].volatility for k in keys]))
    z_volume = zscores(np.log1p(np.array([max(figures[k].volume, 0.0) for k in keys])))
    z_momentum = zscores(np.array([figures[k].momentum for k in keys]))
    score = weights["volatility"] * z_vol + weights["volume"] * z_volume + weights["momentum"] * z_momentum
    order = sorted(range(len(keys)), key=lambda i: (-score[i], i))
    ranks = {index: rank for rank, index in enumerate(order, start=1)}
    return {
        key: PairScore(figures[key], float(z_vol[i]), float(z_volume[i]), float(z_momentum[i]), float(score[i]), ranks[i])
        for i, key in enumerate(keys)
    }
