"""The goals page's reads: the goals the user sees (their accounts' and those set for all
accounts) with where each stands, its pace chart, its history, the last goal events and, for
the catch-up switch, the backtest that shows its cost."""

from dataclasses import dataclass

from django.utils import timezone

from apps.common.events import GOALS, GOALS_DESK
from apps.common.models import Event
from apps.exchanges.selectors import account_scoped, accounts_visible_to
from apps.goals.models import DrawdownEvent, Goal
from apps.goals.status import CatchUpEvidence, GoalStatus, catch_up_evidence, goal_history, goal_statuses, pace_series

CHART_W, CHART_H = 300, 80


@dataclass(frozen=True)
class GoalCard:
    state: GoalStatus
    chart: dict  # SVG points of the actual and expected lines through the month
    history: list
    evidence: CatchUpEvidence | None


def goal_cards(*, user) -> list[GoalCard]:
    now = timezone.now()
    goals = list(
        account_scoped(Goal.objects.select_related("account"), user=user, shared_rows=True).order_by("account_id", "kind", "pk")
    )
    cards = []
    for state in goal_statuses(goals=goals, now=now):
        goal = state.goal
        cards.append(
            GoalCard(
                state=state,
                chart=_chart(pace_series(goal=goal, now=now), goal.kind != Goal.Kind.PORTFOLIO_VALUE),
                history=goal_history(goal=goal, limit=62),
                evidence=catch_up_evidence(goal=goal) if not goal.catch_up_enabled else None,
            )
        )
    return cards


def _chart(series: list[dict], monthly: bool) -> dict:
    """Polylines in a CHART_W x CHART_H box: x is the day of the month (monthly goals) or the
    order of the snapshots, y the progress from 0 to the highest value shown (at least 1)."""
    if not series:
        return {}
    top = max([1.0, *(abs(row["actual"]) for row in series), *(row["expected"] or 0 for row in series)])
    count = 31 if monthly else max(len(series) - 1, 1)

    def point(index, value):
        x = (int(series[index]["day"][8:10]) - 1 if monthly else index) / count * CHART_W
        y = CHART_H - max(min(value / top, 1.0), 0.0) * CHART_H
        return f"{x:.1f},{y:.1f}"

    actual = " ".join(point(i, row["actual"]) for i, row in enumerate(series))
    expected = " ".join(point(i, row["expected"]) for i, row in enumerate(series) if row["expected"] is not None)
    target_y = CHART_H - CHART_H / top
    last_x, last_y = point(len(series) - 1, series[-1]["actual"]).split(",")
    return {
        "actual": actual,
        "expected": expected,
        "target_y": f"{target_y:.1f}",
        "last_x": last_x,
        "last_y": last_y,
        "w": CHART_W,
        "h": CHART_H,
    }


def goal_events(*, user, limit: int = 15) -> list[Event]:
    return list(Event.objects.filter(topic__in=goal_topics(user=user), kind__startswith="goal.").order_by("-pk")[:limit])


def goal_topics(*, user) -> list[str]:
    accounts = accounts_visible_to(user=user).values_list("pk", flat=True)
    return [GOALS_DESK.name(), *(GOALS.name(account=account) for account in accounts)]


def drawdown_pauses(*, user) -> list[DrawdownEvent]:
    """This month's breaches still pausing entries, per account the user sees."""
    month = timezone.now().date().replace(day=1)
    return list(
        account_scoped(DrawdownEvent.objects.select_related("account"), user=user)
        .filter(month=month, cleared_at__isnull=True)
        .order_by("account_id", "-pk")
    )
