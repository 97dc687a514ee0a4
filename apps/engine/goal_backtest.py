"""Goals in the backtest, pure and vectorised: how often each monthly target is reached, the
chance of reaching it by a seeded bootstrap of the monthly returns, the realized income per
month, the months to a portfolio target, and the figures that put goal-aware sizing on and off
side by side (return, max drawdown, worst month, the chance of a 20 % drawdown).

Months are calendar months (UTC), each return its last equity against the one before (the
first against the initial balance), as the report's monthly table (metrics.monthly_returns).
The bootstrap draws `resamples` paths of as many months as the run had, with replacement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from apps.engine.goals import PaceInput, monthly_return_progress, sizing_factor
from apps.engine.metrics import monthly_returns

RESAMPLES = 10_000
SEED = 12
DRAWDOWN_THRESHOLD = 0.20


@dataclass(frozen=True)
class GoalTargets:
    monthly_return: float | None = None  # fraction, 0.10 = 10 %
    monthly_income: float | None = None  # quote per month
    portfolio_value: float | None = None  # quote

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.monthly_return, self.monthly_income, self.portfolio_value))


def months_of(time_ms: np.ndarray, equity: np.ndarray, initial: float) -> tuple[list[str], np.ndarray]:
    """(month labels 'YYYY-MM', monthly returns as fractions)."""
    rows = monthly_returns(np.asarray(time_ms), np.asarray(equity, dtype=np.float64), initial)
    return [row["month"] for row in rows], np.array([row["return_pct"] / 100.0 for row in rows], dtype=np.float64)


def monthly_income(months: list[str], exit_ms: np.ndarray, pnl: np.ndarray) -> np.ndarray:
    """Realized P&L (fees included) of the trades closed in each month of the run."""
    if not months:
        return np.zeros(0)
    labels = np.asarray(exit_ms, dtype=np.int64).astype("datetime64[ms]").astype("datetime64[M]")
    index = np.searchsorted(np.array(months, dtype="datetime64[M]"), labels)
    inside = (index >= 0) & (index < len(months))
    return np.bincount(index[inside], weights=np.asarray(pnl, dtype=np.float64)[inside], minlength=len(months))


def bootstrap(returns: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, months) monthly returns drawn with replacement, seeded (the same every run)."""
    rng = np.random.default_rng(seed)
    return rng.choice(returns, size=(resamples, len(returns)), replace=True)


def median_month(samples: np.ndarray) -> float:
    """The median over the resampled paths of their compounded mean month."""
    growth = np.prod(1.0 + samples, axis=1)
    means = np.where(growth > 0, np.power(np.maximum(growth, 0.0), 1.0 / samples.shape[1]) - 1.0, -1.0)
    return float(np.median(means))


def months_to_target(*, value: float, target: float, month: float) -> int | None:
    """Months of compounding `month` from `value` to `target`: 0 when reached, None (never) when
    the month does not grow."""
    if value >= target:
        return 0
    if month <= 0 or value <= 0:
        return None
    months = math.log(target / value) / math.log1p(month)
    return math.ceil(months - 1e-9)  # exactly n months is n, not n + 1 by a float's last digit


def path_drawdowns(samples: np.ndarray) -> np.ndarray:
    """The max drawdown of each resampled path of month-end equities (starting at 1)."""
    paths = np.cumprod(1.0 + samples, axis=1)
    paths = np.concatenate((np.ones((paths.shape[0], 1)), paths), axis=1)
    peaks = np.maximum.accumulate(paths, axis=1)
    return np.max((peaks - paths) / peaks, axis=1)


def max_drawdown(equity: np.ndarray) -> float:
    equity = np.asarray(equity, dtype=np.float64)
    peaks = np.maximum.accumulate(equity)
    return float(np.max(np.where(peaks > 0, (peaks - equity) / peaks, 0.0))) if len(equity) else 0.0


@dataclass(frozen=True)
class RunFigures:
    """One run's side of the sizing comparison."""

    total_return: float  # fraction
    max_drawdown: float  # fraction
    worst_month: float | None  # fraction
    drawdown_probability: float | None  # P(a path of as many months draws down >= 20 %)

    def as_dict(self) -> dict:
        return {
            "return": self.total_return,
            "max_drawdown": self.max_drawdown,
            "worst_month": self.worst_month,
            "p_drawdown_20": self.drawdown_probability,
        }


def run_figures(
    time_ms: np.ndarray, equity: np.ndarray, initial: float, *, resamples: int = RESAMPLES, seed: int = SEED
) -> RunFigures:
    _, returns = months_of(time_ms, equity, initial)
    equity = np.asarray(equity, dtype=np.float64)
    if not len(returns):
        return RunFigures(float(equity[-1] / initial - 1.0), max_drawdown(equity), None, None)
    paths = path_drawdowns(bootstrap(returns, resamples=resamples, seed=seed))
    return RunFigures(
        total_return=float(equity[-1] / initial - 1.0),
        max_drawdown=max_drawdown(np.concatenate(([initial], equity))),
        worst_month=float(returns.min()),
        drawdown_probability=float(np.mean(paths >= DRAWDOWN_THRESHOLD - 1e-12)),
    )


def goal_report(
    *,
    time_ms: np.ndarray,
    equity: np.ndarray,
    initial: float,
    targets: GoalTargets,
    trade_exit_ms: np.ndarray | None = None,
    trade_pnl: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict:
    """The goal figures of one run (JSON-ready: floats, ints, None)."""
    months, returns = months_of(time_ms, equity, initial)
    no_trades = trade_exit_ms is None or trade_pnl is None
    income = monthly_income(months, np.zeros(0) if no_trades else trade_exit_ms, np.zeros(0) if no_trades else trade_pnl)
    samples = bootstrap(returns, resamples=resamples, seed=seed) if len(returns) else np.zeros((0, 0))
    report: dict = {"months": len(months), "resamples": resamples, "seed": seed}
    report["average_monthly_income"] = float(income.mean()) if len(income) else 0.0
    if targets.monthly_return is not None:
        target = targets.monthly_return
        report["monthly_return"] = {
            "target": target,
            "share_of_months": float(np.mean(returns >= target)) if len(returns) else None,
            "probability": float(np.mean(samples >= target)) if samples.size else None,
        }
    if targets.monthly_income is not None:
        target = targets.monthly_income
        report["monthly_income"] = {
            "target": target,
            "share_of_months": float(np.mean(income >= target)) if len(income) else None,
            "probability": float(np.mean(bootstrap(income, resamples=resamples, seed=seed) >= target)) if len(income) else None,
        }
    if targets.portfolio_value is not None:
        month = median_month(samples) if samples.size else 0.0
        final = float(np.asarray(equity)[-1])
        report["portfolio_value"] = {
            "target": targets.portfolio_value,
            "median_month": month,
            "months_to_target": months_to_target(value=final, target=targets.portfolio_value, month=month),
        }
    return report


class GoalSizing:
    """Goal-aware sizing inside a backtest (catch-up on): called at each entry with the time and
    the equity, returns the factor on the entry's size. The month's starting equity is the
    equity at the month's first entry (the simulation knows equity only when it trades)."""

    def __init__(self, targets: GoalTargets, *, catch_up: bool = True):
        self.targets, self.catch_up = targets, catch_up
        self._month: tuple[int, int] | None = None
        self._start = 0.0

    def __call__(self, now_ms: int, equity: float) -> float:
        now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        if (now.year, now.month) != self._month:
            self._month, self._start = (now.year, now.month), equity
        paces = []
        if self.targets.monthly_return is not None:
            progress = monthly_return_progress(
                value_now=equity, month_start_value=self._start, target=self.targets.monthly_return, now=now
            )
            paces.append(PaceInput(progress.pace_ratio, achieved=progress.achieved, catch_up=self.catch_up))
        fractions = [equity / self.targets.portfolio_value] if self.targets.portfolio_value else []
        return sizing_factor(paces=paces, day_of_month=now.day, portfolio_fractions=fractions).final
