"""Where each goal stands now, as the goals page and the API show it: progress, pace, what
remains, the days left, the required daily return, and the sizing factor and risk stance in
force on its account. Reads only (the progress rules are pure, apps/engine/goals.py)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from apps.engine import goals as rules
from apps.goals.models import Goal, GoalSnapshot
from apps.goals.services import goal_measure
from apps.risk.models import SizingStance


@dataclass(frozen=True)
class GoalStatus:
    goal: Goal
    status: str
    current: float
    progress: float
    expected: float | None
    pace_ratio: float | None
    remaining: float  # what is left to the target, in the target's unit (fraction or quote)
    days_left: int | None  # in the month (monthly goals) or to the deadline
    required_daily_return: float | None
    factor: Decimal | None
    stance: str
    max_position_pct: Decimal | None
    entries_paused: str
    error: str = ""  # the progress could not be measured (the page says so instead of failing)


def goal_statuses(*, goals: list[Goal], now: datetime) -> list[GoalStatus]:
    stances = {stance.account_id: stance for stance in SizingStance.objects.filter(account_id__in={g.account_id for g in goals})}
    cache: dict = {}
    return [_status(goal, stances.get(goal.account_id), now, cache) for goal in goals]


def _status(goal: Goal, stance: SizingStance | None, now: datetime, cache: dict) -> GoalStatus:
    force = {
        "factor": stance.factor if stance else None,
        "stance": stance.stance if stance else "",
        "max_position_pct": stance.max_position_pct if stance else None,
        "entries_paused": stance.entries_paused if stance else "",
    }
    try:
        progress = goal_measure(goal=goal, now=now, cache=cache).progress
    except Exception as error:  # a page shows every other goal
        return GoalStatus(goal, "", 0.0, 0.0, None, None, 0.0, None, None, error=f"not measured: {type(error).__name__}", **force)
    target = float(goal.target)
    if goal.kind == Goal.Kind.PORTFOLIO_VALUE:
        days = max((goal.deadline - now).days, 0) if goal.deadline else None
        required = None
    else:
        days = rules.days_left_in_month(now)
        required = (
            rules.required_daily_return(target=target, current=progress.current, days_left=days)
            if goal.kind == Goal.Kind.MONTHLY_RETURN
            else None
        )
    return GoalStatus(
        goal=goal,
        status=progress.status.value,
        current=progress.current,
        progress=progress.progress,
        expected=progress.expected,
        pace_ratio=progress.pace_ratio,
        remaining=max(target - progress.current, 0.0),
        days_left=days,
        required_daily_return=required,
        **force,
    )


def goal_history(*, goal: Goal, limit: int = 400) -> list[GoalSnapshot]:
    return list(GoalSnapshot.objects.filter(goal=goal).order_by("-day")[:limit])


def pace_series(*, goal: Goal, now: datetime) -> list[dict]:
    """This month's snapshots as (day, actual progress, expected progress): the pace chart."""
    start = rules.month_start(now).date()
    return [
        {"day": snapshot.day.isoformat(), "actual": snapshot.progress, "expected": snapshot.expected}
        for snapshot in GoalSnapshot.objects.filter(goal=goal, day__gte=start).order_by("day")
    ]


@dataclass(frozen=True)
class CatchUpEvidence:
    """The latest goal backtest of the goal's account strategies: what catch-up cost there."""

    run_id: int
    label: str
    rows: list[tuple[str, str, str]]  # (figure, sizing off, sizing on)


def catch_up_evidence(*, goal: Goal) -> CatchUpEvidence | None:
    """The newest backtest run with goal figures (`backtest --goal ...`) of a strategy of the
    goal's account (any run with goal figures for a goal of all accounts); None when none ran."""
    from apps.strategies.models import BacktestRun

    runs = BacktestRun.objects.filter(metrics__has_key="goals").order_by("-pk")
    if goal.account_id:
        runs = runs.filter(strategy__account_id=goal.account_id)
    run = runs.first()
    if run is None:
        return None
    sizing = run.metrics["goals"].get("sizing") or {}
    off, on = sizing.get("off") or {}, sizing.get("on") or {}

    def pct(value, signed=True):
        return "—" if value is None else (f"{value:+.2%}" if signed else f"{value:.2%}")

    rows = [
        ("Return", pct(off.get("return")), pct(on.get("return"))),
        ("Max drawdown", pct(off.get("max_drawdown"), False), pct(on.get("max_drawdown"), False)),
        ("Worst month", pct(off.get("worst_month")), pct(on.get("worst_month"))),
        ("P(drawdown ≥ 20 %)", pct(off.get("p_drawdown_20"), False), pct(on.get("p_drawdown_20"), False)),
    ]
    label = f"backtest #{run.pk}: {run.kind} on {', '.join(run.symbols)} {run.timeframe}, {run.data_start:%Y-%m-%d} to {run.data_end:%Y-%m-%d}"
    return CatchUpEvidence(run.pk, label, rows)
