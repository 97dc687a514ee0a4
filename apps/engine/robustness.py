"""Is a backtest's edge robust, or luck? Pure and seeded, so a report can be reproduced.

- Monte Carlo: the same trades in other orders (shuffle: the final equity cannot change, the
  drawdown can) and trades drawn with replacement (bootstrap of the trade returns,
  compounded: both can change); the 5th, 50th and 95th percentiles.
- Significance: the mean trade return against random entries on the detrended market
  (the market's own drift removed, so a long-only rule in a rising market earns nothing for
  free), with the same holding times and sides; the p-value is the share of random runs doing
  at least as well.
- Neighbourhood: how much the objective falls when each param moves one step either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERCENTILES = (5, 50, 95)


@dataclass(frozen=True)
class MonteCarlo:
    runs: int
    seed: int
    final_equity: dict[int, float]  # percentile -> value, shuffle and bootstrap below
    max_drawdown_pct: dict[int, float]


def _max_drawdown_pct(paths: np.ndarray, initial: float) -> np.ndarray:
    """Deepest fall from a running peak, in %, per row of equity paths (initial included)."""
    curve = np.concatenate((np.full((paths.shape[0], 1), initial), paths), axis=1)
    peaks = np.maximum.accumulate(curve, axis=1)
    return (1.0 - curve / peaks).max(axis=1) * 100.0


def _percentiles(values: np.ndarray) -> dict[int, float]:
    return {p: float(v) for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES))}


def monte_carlo_shuffle(pnl: np.ndarray, initial: float, *, runs: int = 1000, seed: int = 0) -> MonteCarlo:
    """The trades' P&L (quote) in `runs` random orders, added up from the initial balance."""
    pnl = np.asarray(pnl, dtype=np.float64)
    rng = np.random.default_rng(seed)
    orders = rng.permuted(np.tile(pnl, (runs, 1)), axis=1) if len(pnl) else np.zeros((runs, 0))
    paths = initial + np.cumsum(orders, axis=1)
    finals = paths[:, -1] if len(pnl) else np.full(runs, initial)
    return MonteCarlo(runs, seed, _percentiles(finals), _percentiles(_max_drawdown_pct(paths, initial)))


def monte_carlo_bootstrap(returns: np.ndarray, initial: float, *, runs: int = 1000, seed: int = 0) -> MonteCarlo:
    """`runs` histories of as many trades drawn with replacement from the trade returns
    (fractions of the equity at entry), compounded from the initial balance."""
    returns = np.asarray(returns, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if not len(returns):
        flat = np.full(runs, initial)
        return MonteCarlo(runs, seed, _percentiles(flat), _percentiles(np.zeros(runs)))
    draws = returns[rng.integers(0, len(returns), size=(runs, len(returns)))]
    paths = initial * np.cumprod(1.0 + draws, axis=1)
    return MonteCarlo(runs, seed, _percentiles(paths[:, -1]), _percentiles(_max_drawdown_pct(paths, initial)))


@dataclass(frozen=True)
class Significance:
    trades: int
    mean_return: float  # of the strategy's trades on the detrended market (log return)
    random_mean: float  # average of the random runs' mean
    p_value: float | None  # None without trades
    runs: int
    seed: int


def random_entry_significance(
    close: np.ndarray,
    entry_bar: np.ndarray,
    exit_bar: np.ndarray,
    side: np.ndarray,
    *,
    runs: int = 2000,
    seed: int = 0,
) -> Significance:
    """One-sided test of the mean trade return: the trades' log returns on the detrended
    closes against `runs` sets of random entries holding as long, on the same sides."""
    close = np.asarray(close, dtype=np.float64)
    entry_bar, exit_bar = np.asarray(entry_bar, dtype=np.int64), np.asarray(exit_bar, dtype=np.int64)
    side = np.asarray(side, dtype=np.float64)
    if not len(entry_bar):
        return Significance(0, 0.0, 0.0, None, runs, seed)
    log_close = np.log(close)
    drift = (log_close[-1] - log_close[0]) / max(len(close) - 1, 1)
    detrended = log_close - drift * np.arange(len(close))
    strategy_mean = float(np.mean(side * (detrended[exit_bar] - detrended[entry_bar])))
    hold = np.maximum(exit_bar - entry_bar, 0)
    rng = np.random.default_rng(seed)
    latest = np.maximum(len(close) - 1 - hold, 0)  # a random entry must have room for its holding time
    entries = (rng.random((runs, len(hold))) * (latest + 1)).astype(np.int64)
    random_means = np.mean(side * (detrended[entries + hold] - detrended[entries]), axis=1)
    p_value = float((1 + np.count_nonzero(random_means >= strategy_mean)) / (1 + runs))
    return Significance(len(entry_bar), strategy_mean, float(random_means.mean()), p_value, runs, seed)


def neighbourhood_drop(best: float, neighbours: list[float | None]) -> dict:
    """How far the objective falls around the best params: the mean and worst fall of the
    neighbours, as a fraction of |best| (0 = a plateau, 1 = falls to zero). Undefined
    neighbours (no trades...) count as the worst."""
    if not neighbours:
        return {"neighbours": 0, "mean_drop": None, "worst_drop": None}
    scale = abs(best) or 1.0
    drops = [1.0 if value is None else (best - value) / scale for value in neighbours]
    return {"neighbours": len(neighbours), "mean_drop": float(np.mean(drops)), "worst_drop": float(np.max(drops))}
