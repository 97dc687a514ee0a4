"""Goal writes: daily snapshots (with an event on each status change) and the sizing stance
each account's active goals put in force (apps.risk.models.SizingStance, read at placement).
The rules are pure (apps/engine/goals.py): Decimal money is converted to floats here."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.common.errors import Invalid
from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.engine import goals as rules
from apps.goals.models import Goal, GoalAdjustment, GoalSnapshot
from apps.goals.selectors import Figures, accounts_with_goals, goal_account_ids, goal_figures, goals_active, goals_for_account
from apps.risk.models import SizingStance

log = get_logger(__name__)
FACTOR_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Measured:
    goal: Goal
    figures: Figures
    progress: rules.Progress


def goal_measure(*, goal: Goal, now: datetime, at: datetime | None = None) -> Measured:
    """The goal's progress at `now` (from live figures, or the snapshots' at `at` for a past day)."""
    figures = goal_figures(account_ids=goal_account_ids(goal), month_start=rules.month_start(now), at=at)
    return Measured(goal, figures, _progress(goal, figures, now))


def _progress(goal: Goal, figures: Figures, now: datetime) -> rules.Progress:
    target = float(goal.target)
    if goal.kind == Goal.Kind.MONTHLY_RETURN:
        return rules.monthly_return_progress(
            value_now=float(figures.equity), month_start_value=float(figures.month_start_equity), target=target, now=now
        )
    if goal.kind == Goal.Kind.MONTHLY_INCOME:
        return rules.monthly_income_progress(realized=float(figures.month_realized), target=target, now=now)
    return rules.portfolio_value_progress(
        value_now=float(figures.equity),
        target=target,
        now=now,
        set_at=goal.set_at,
        set_value=float(goal.set_value) if goal.set_value is not None else None,
        deadline=goal.deadline,
    )


# --- snapshots ------------------------------------------------------------------------------


def goals_snapshot(*, on: date | None = None) -> dict[str, int]:
    """Snapshot every active goal for the day `on` (today, UTC, by default): today from the live
    figures, a past day from the portfolio snapshots at its end. Idempotent per goal and day: a
    second run replaces the day's figures, and a status change is evented once. Then refreshes
    the sizing stances. One goal's failure is logged and does not stop the others."""
    now = timezone.now()
    day = on or now.date()
    if day > now.date():
        raise Invalid.from_fields({"on": f"{day} has not come yet: snapshot today or a past day."})
    end_of_day = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    at = None if day >= now.date() else end_of_day
    counts = {"snapshots": 0, "status_changes": 0, "failed": 0}
    for goal in goals_active():
        try:
            changed = goal_snapshot_take(goal=goal, day=day, now=now if at is None else end_of_day, at=at)
        except Exception:
            log.exception("goal snapshot failed", goal=goal.pk)
            counts["failed"] += 1
            continue
        counts["snapshots"] += 1
        counts["status_changes"] += changed
    sizing_stances_refresh()
    return counts


def goal_snapshot_take(*, goal: Goal, day: date, now: datetime, at: datetime | None = None) -> bool:
    """Write the goal's snapshot for `day`; True when its status changed (and was evented)."""
    measured = goal_measure(goal=goal, now=now, at=at)
    progress, figures = measured.progress, measured.figures
    current = {
        Goal.Kind.MONTHLY_RETURN: Decimal(str(progress.current)),
        Goal.Kind.MONTHLY_INCOME: figures.month_realized,
        Goal.Kind.PORTFOLIO_VALUE: figures.equity,
    }[goal.kind]
    with transaction.atomic():
        previous = GoalSnapshot.objects.select_for_update().filter(goal=goal, day__lte=day).order_by("-day").first()
        GoalSnapshot.objects.update_or_create(
            goal=goal,
            day=day,
            defaults={
                "taken_at": now,
                "value": figures.equity,
                "current": current,
                "month_start_value": figures.month_start_equity,
                "progress": progress.progress,
                "expected": progress.expected,
                "pace_ratio": progress.pace_ratio,
                "status": progress.status.value,
            },
        )
        changed = previous is None or previous.status != progress.status.value
        if changed:
            _status_event(goal, previous.status if previous else "", progress)
    return changed


def _status_event(goal: Goal, before: str, progress: rules.Progress) -> None:
    reason = f"{goal}: {progress.progress:.0%} of the target" + (
        f", pace {progress.pace_ratio:.2f} of the expected" if progress.pace_ratio is not None else ""
    )
    payload = {
        "goal": goal.pk,
        "kind": goal.kind,
        "from": before,
        "to": progress.status.value,
        "priority": rules.STATUS_PRIORITY[progress.status],
        "progress": round(progress.progress, 6),
        "reason": reason,
    }
    event_record("goal.status_changed", payload, **({"account": goal.account_id} if goal.account_id else {}))


# --- sizing stance --------------------------------------------------------------------------


def sizing_stances_refresh(*, now: datetime | None = None) -> int:
    """Write the sizing stance of every account an active goal steers; remove the stance of an
    account no goal steers any more (its entries are sized as set). Returns the stances written."""
    now = now or timezone.now()
    steered = accounts_with_goals()
    SizingStance.objects.exclude(account_id__in=steered).delete()
    for account_id in steered:
        sizing_stance_refresh(account_id=account_id, now=now)
    return len(steered)


def sizing_stance_refresh(*, account_id: int, now: datetime) -> SizingStance:
    """The factor from the account's active goals; on any failure factor 1.0, with the reason."""
    try:
        factors = _sizing_factors(account_id, now)
        values = {
            "factor": Decimal(str(factors.final)).quantize(FACTOR_PLACES),
            "reason": factors.reason,
            "factors": {"pace": factors.pace, "early_month": factors.early_month, "preservation": factors.preservation},
        }
    except Exception as error:
        log.exception("goal sizing factor failed: 1.0 in force", account=account_id)
        values = {"factor": Decimal(1), "factors": {}, "reason": f"goal sizing failed ({type(error).__name__}): factor 1.0"}
    stance, _ = SizingStance.objects.update_or_create(account_id=account_id, defaults=values)
    return stance


def _sizing_factors(account_id: int, now: datetime) -> rules.SizingFactors:
    paces, portfolio = [], []
    for goal in goals_for_account(account_id=account_id):
        progress = goal_measure(goal=goal, now=now).progress
        if goal.kind == Goal.Kind.PORTFOLIO_VALUE:
            portfolio.append(progress.progress)
        else:
            paces.append(rules.PaceInput(progress.pace_ratio, achieved=progress.achieved, catch_up=goal.catch_up_enabled))
    return rules.sizing_factor(paces=paces, day_of_month=now.astimezone(UTC).day, portfolio_fractions=portfolio)


def goal_adjustment_record(*, sizing) -> GoalAdjustment | None:
    """Log one sizing decision of placement (apps.risk.sizing.EntrySizing). In its own savepoint:
    a failure to log never undoes the placement."""
    parts = sizing.factors or {}
    try:
        with transaction.atomic():
            return GoalAdjustment.objects.create(
                account_id=sizing.account_id,
                signal_id=sizing.signal_id,
                base_size=sizing.base_size,
                pace_factor=parts.get("pace"),
                early_month_factor=parts.get("early_month"),
                preservation_factor=parts.get("preservation"),
                final_factor=sizing.factor,
                final_size=sizing.final_size,
                capped_by=sizing.capped_by,
                reason=sizing.reason[:4000],
            )
    except Exception:
        log.exception("goal adjustment not recorded", account=sizing.account_id, signal=sizing.signal_id)
        return None


def goal_activated(*, goal: Goal) -> None:
    """Record where a portfolio goal starts its path to the deadline (the equity when activated)."""
    if goal.active and goal.set_at is None:
        figures = goal_figures(account_ids=goal_account_ids(goal), month_start=rules.month_start(timezone.now()))
        goal.set_at, goal.set_value = timezone.now(), figures.equity
        Goal.objects.filter(pk=goal.pk).update(set_at=goal.set_at, set_value=goal.set_value)
