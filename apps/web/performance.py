"""The performance page's figures from portfolio snapshots, by the backtest's own metric
functions (apps.engine.metrics: total return, max drawdown, monthly returns), so a live
account and a backtest are measured by one definition. Daily P&L is exact (Decimal, quote)."""

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from apps.engine import metrics
from apps.exchanges.selectors import accounts_visible_to
from apps.trading.models import PortfolioSnapshot


@dataclass
class Performance:
    account: object | None
    points: list[dict] = field(default_factory=list)  # time, equity, peak, drawdown_pct
    total_return_pct: float | None = None
    max_drawdown_pct: float | None = None
    daily_pnl: list[dict] = field(default_factory=list)  # day, pnl (Decimal), equity
    monthly: list[dict] = field(default_factory=list)  # month, return_pct


def performance_of(snapshots: list[tuple]) -> dict:
    """(taken_at, equity) pairs, oldest first -> the page's figures. The first snapshot is the
    initial balance (as a backtest's starting cash)."""
    if not snapshots:
        return {"points": [], "total_return_pct": None, "max_drawdown_pct": None, "daily_pnl": [], "monthly": []}
    times = np.array([int(at.timestamp() * 1000) for at, _ in snapshots], dtype=np.int64)
    equity = np.array([float(value) for _, value in snapshots], dtype=np.float64)
    initial = equity[0]
    peaks = np.maximum.accumulate(equity)
    points = [
        {"time": int(t // 1000), "equity": float(e), "peak": float(p), "drawdown_pct": float((1 - e / p) * 100) if p else 0.0}
        for t, e, p in zip(times, equity, peaks, strict=True)
    ]
    return {
        "points": points,
        "total_return_pct": metrics.total_return_pct(initial, float(equity[-1])),
        "max_drawdown_pct": metrics.max_drawdown(times, equity, initial)["max_drawdown_pct"],
        "daily_pnl": daily_pnl(snapshots),
        "monthly": metrics.monthly_returns(times, equity, initial),
    }


def daily_pnl(snapshots: list[tuple]) -> list[dict]:
    """Each UTC day: its last equity minus the previous day's last (the first day: minus the
    first snapshot), exact."""
    last_of_day: dict = {}
    for at, value in snapshots:
        last_of_day[at.date()] = Decimal(value)
    previous = Decimal(snapshots[0][1])
    rows = []
    for day, value in last_of_day.items():
        rows.append({"day": day, "pnl": value - previous, "equity": value})
        previous = value
    return rows


def performance_for(*, user, account_id: int | None) -> Performance:
    """One account's performance (the first of the user's accounts when none is asked; an
    account outside them is treated as not asked)."""
    accounts = accounts_visible_to(user=user).order_by("name")
    account = (accounts.filter(pk=account_id).first() if account_id else None) or accounts.first()
    if account is None:
        return Performance(account=None)
    rows = list(PortfolioSnapshot.objects.filter(account=account).order_by("taken_at").values_list("taken_at", "equity"))
    return Performance(account=account, **performance_of(rows))


def chart_series(report: Performance) -> dict:
    return {
        "equity": [{"time": p["time"], "value": p["equity"]} for p in report.points],
        "peak": [{"time": p["time"], "value": p["peak"]} for p in report.points],
        "drawdown": [{"time": p["time"], "value": -p["drawdown_pct"]} for p in report.points],
    }
