"""Goal writes: daily snapshots (with an event on each status change) and the sizing stance
each account's active goals put in force (apps.risk.models.SizingStance, read at placement):
the sizing factor, the adaptive risk stance (RiskLimitAdjustment on each change) and the goal
drawdown protection (DrawdownEvent: pause new entries, halve every position, close all).
The rules are pure (apps/engine/goals.py): Decimal money is converted to floats here."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.common.audit import audit_record, audit_refusals
from apps.common.bulk import rows_write
from apps.common.errors import ApplicationError, Conflict, Invalid, NotFound
from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.engine import goals as rules
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.models import ExchangeAccount
from apps.exchanges.roles import Role
from apps.goals.models import DrawdownEvent, Goal, GoalAdjustment, GoalSnapshot, RiskLimitAdjustment
from apps.goals.selectors import (
    QUOTE,
    Figures,
    accounts_with_goals,
    goal_account_ids,
    goal_figures,
    goals_active,
    goals_for_account,
)
from apps.goals.validation import goal_validate
from apps.risk.models import SizingStance
from apps.risk.selectors import limits_value
from apps.trading.models import PortfolioSnapshot, Position
from apps.trading.selectors import account_equity

log = get_logger(__name__)
FACTOR_PLACES = Decimal("0.0001")
SNAPSHOT_FIGURES = ["taken_at", "value", "current", "month_start_value", "progress", "expected", "pace_ratio", "status"]


@dataclass(frozen=True)
class Measured:
    goal: Goal
    figures: Figures
    progress: rules.Progress


FiguresCache = dict  # (account ids, month start, at) -> Figures: one read per account in a run


def goal_measure(*, goal: Goal, now: datetime, at: datetime | None = None, cache: FiguresCache | None = None) -> Measured:
    """The goal's progress at `now` (from live figures, or the snapshots' at `at` for a past day).
    `cache`: figures already read in this run (many goals share one account's figures)."""
    ids, start = goal_account_ids(goal), rules.month_start(now)
    key = (tuple(ids), start, at)
    figures = cache.get(key) if cache is not None else None
    if figures is None:
        figures = goal_figures(account_ids=ids, month_start=start, at=at)
        if cache is not None:
            cache[key] = figures
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
    cache: FiguresCache = {}
    for goal in goals_active():
        try:
            changed = goal_snapshot_take(goal=goal, day=day, now=now if at is None else end_of_day, at=at, cache=cache)
        except Exception:
            log.exception("goal snapshot failed", goal=goal.pk)
            counts["failed"] += 1
            continue
        counts["snapshots"] += 1
        counts["status_changes"] += changed
    sizing_stances_refresh(now=now, cache=cache if at is None else None)
    return counts


def goal_snapshot_take(
    *, goal: Goal, day: date, now: datetime, at: datetime | None = None, cache: FiguresCache | None = None
) -> bool:
    """Write the goal's snapshot for `day`; True when its status changed (and was evented)."""
    measured = goal_measure(goal=goal, now=now, at=at, cache=cache)
    progress, figures = measured.progress, measured.figures
    current = {
        Goal.Kind.MONTHLY_RETURN: Decimal(str(progress.current)),
        Goal.Kind.MONTHLY_INCOME: figures.month_realized,
        Goal.Kind.PORTFOLIO_VALUE: figures.equity,
    }[goal.kind]
    with transaction.atomic():
        previous = GoalSnapshot.objects.select_for_update().filter(goal=goal, day__lte=day).order_by("-day").first()
        row = GoalSnapshot(
            goal=goal,
            day=day,
            taken_at=now,
            value=figures.equity,
            current=current,
            month_start_value=figures.month_start_equity,
            progress=progress.progress,
            expected=progress.expected,
            pace_ratio=progress.pace_ratio,
            status=progress.status.value,
        )
        GoalSnapshot.objects.bulk_create(  # one statement: insert, or replace the day's figures
            [row], update_conflicts=True, unique_fields=["goal", "day"], update_fields=SNAPSHOT_FIGURES
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


def sizing_stances_refresh(*, now: datetime | None = None, cache: FiguresCache | None = None) -> int:
    """Write the sizing stance of every account an active goal steers (factor, risk stance, and
    the goal drawdown protection's pause); remove the stance of an account no goal steers any
    more (its entries are sized as set). Returns the stances written."""
    now = now or timezone.now()
    steered = accounts_with_goals()
    SizingStance.objects.exclude(account_id__in=steered).delete()
    cache = {} if cache is None else cache
    for account_id in steered:
        sizing_stance_refresh(account_id=account_id, now=now, cache=cache)
    return len(steered)


@dataclass(frozen=True)
class GoalInputs:
    paces: list[rules.PaceInput]
    portfolio_fractions: list[float]


def sizing_stance_refresh(*, account_id: int, now: datetime, cache: FiguresCache | None = None) -> SizingStance:
    """The factor, the risk stance and the drawdown pause from the account's active goals. A
    failure of the factor is factor 1.0 with the reason; of the stance, no stance limit; of the
    drawdown check, the pauses already recorded stay in force. Each is logged."""
    inputs = None
    try:
        inputs = _goal_inputs(account_id, now, cache)
        factors = rules.sizing_factor(
            paces=inputs.paces, day_of_month=now.astimezone(UTC).day, portfolio_fractions=inputs.portfolio_fractions
        )
        values = {
            "factor": Decimal(str(factors.final)).quantize(FACTOR_PLACES),
            "reason": factors.reason,
            "factors": {"pace": factors.pace, "early_month": factors.early_month, "preservation": factors.preservation},
        }
    except Exception as error:
        log.exception("goal sizing factor failed: 1.0 in force", account=account_id)
        values = {"factor": Decimal(1), "factors": {}, "reason": f"goal sizing failed ({type(error).__name__}): factor 1.0"}
    values |= _risk_stance_values(account_id, inputs, values["factor"])
    try:
        drawdown_protect(account_id=account_id, now=now, portfolio_fractions=inputs.portfolio_fractions if inputs else [])
    except Exception:
        log.exception("goal drawdown check failed: the recorded pauses stay", account=account_id)
    values["entries_paused"] = drawdown_pause_reason(account_id=account_id, now=now)
    stance, _ = SizingStance.objects.update_or_create(account_id=account_id, defaults=values)
    return stance


def _goal_inputs(account_id: int, now: datetime, cache: FiguresCache | None = None) -> GoalInputs:
    paces, portfolio = [], []
    for goal in goals_for_account(account_id=account_id):
        progress = goal_measure(goal=goal, now=now, cache=cache).progress
        if goal.kind == Goal.Kind.PORTFOLIO_VALUE:
            portfolio.append(progress.progress)
        else:
            paces.append(rules.PaceInput(progress.pace_ratio, achieved=progress.achieved, catch_up=goal.catch_up_enabled))
    return GoalInputs(paces, portfolio)


# --- adaptive risk stance -------------------------------------------------------------------


def _risk_stance_values(account_id: int, inputs: GoalInputs | None, factor: Decimal) -> dict:
    """The stance's max-position % (recorded as a RiskLimitAdjustment when it changes)."""
    if inputs is None:
        return {"stance": "", "max_position_pct": None}
    try:
        stance = rules.risk_stance(paces=inputs.paces, portfolio_fractions=inputs.portfolio_fractions)
        pct = Decimal(str(round(stance.max_position_pct, 4)))
        base = limits_value(name="max_position_pct", account_id=account_id)
        limit = min(pct, base) if base is not None else pct
        last = RiskLimitAdjustment.objects.filter(account_id=account_id).order_by("-id").first()
        if last is None or (last.stance, last.limit, last.base) != (stance.stance, limit, base):
            reason = stance.reason + (
                f"; capped by the trader's {base.normalize():f} %" if base is not None and base < pct else ""
            )
            _stance_change_record(account_id, stance, limit, base, reason, factor)
        return {"stance": stance.stance, "max_position_pct": limit}
    except Exception:
        log.exception("goal risk stance failed: the trader's limits as set", account=account_id)
        return {"stance": "", "max_position_pct": None}


@transaction.atomic  # the adjustment and its outbox event together
def _stance_change_record(account_id: int, stance: rules.RiskStance, limit: Decimal, base, reason: str, factor) -> None:
    RiskLimitAdjustment.objects.create(
        account_id=account_id, stance=stance.stance, limit=limit, base=base, progress=stance.progress, reason=reason
    )
    payload = {
        "account": account_id,
        "stance": stance.stance,
        "limit": str(limit),
        "base": str(base) if base is not None else None,
        "factor": str(factor),
        "reason": reason,
    }
    event_record("goal.stance_changed", payload, account=account_id)


# --- goal drawdown protection ---------------------------------------------------------------


def drawdown_protect(*, account_id: int, now: datetime, portfolio_fractions: list[float]) -> list[DrawdownEvent]:
    """Check the account's drawdown from this month's peak; record each level breached for the
    first time this month and act on it: pause new entries; halve every position; close all
    (flatten; a halving due at the same moment is left to it). Returns the new events."""
    account = ExchangeAccount.objects.get(pk=account_id)
    month = rules.month_start(now)
    value = account_equity(account=account, quote=QUOTE)
    peak = max(month_peak_equity(account_id=account_id, since=month), value)
    check = rules.drawdown_check(month_peak=float(peak), value=float(value), portfolio_fractions=portfolio_fractions)
    created = []
    for level in check.actions:
        event = _drawdown_record(account, month.date(), level, check, value, peak)
        if event is not None:
            created.append(event)
    for event in created:
        event.actions = _drawdown_act(account, event, closing_all=rules.CLOSE_ALL in check.actions)
        with transaction.atomic():  # the row and its outbox event together
            DrawdownEvent.objects.filter(pk=event.pk).update(actions=event.actions)
            _drawdown_event(event, priority="medium" if event.level == rules.PAUSE_NEW else "high")
    return created


def month_peak_equity(*, account_id: int, since: datetime) -> Decimal:
    peak = PortfolioSnapshot.objects.filter(account_id=account_id, taken_at__gte=since).aggregate(peak=Max("equity"))["peak"]
    return peak if peak is not None else Decimal(0)


def _drawdown_record(account, month: date, level: str, check: rules.DrawdownCheck, value, peak) -> DrawdownEvent | None:
    """The level's event, once a month (None when already recorded)."""
    reason = (
        f"goal drawdown protection: equity {value:.2f} is {check.actual:.2%} below this month's peak {peak:.2f} "
        f"(limit {check.limit:.0%}, {check.stance}): {DrawdownEvent.Level(level).label.lower()}"
    )
    with transaction.atomic():
        event, made = DrawdownEvent.objects.get_or_create(
            account=account,
            month=month,
            level=level,
            defaults={
                "stance": check.stance,
                "limit": check.limit,
                "actual": check.actual,
                "value": value,
                "peak": peak,
                "reason": reason,
            },
        )
    return event if made else None


def _drawdown_act(account, event: DrawdownEvent, *, closing_all: bool) -> list[str]:
    """What the level asks, through the desk's normal order pipeline (operator services, as the
    system). Returns what was done, in words."""
    from apps.trading.services.operator import account_flatten, position_close

    if event.level == rules.PAUSE_NEW:
        return ["new entries paused"]
    if event.level == rules.REDUCE and closing_all:
        return ["left to close all (breached at the same time)"]
    if event.level == rules.CLOSE_ALL:
        done = account_flatten(actor=None, account_id=account.pk, reason=event.reason, via="system")
        return [f"account flattened: {done.summary()}"]
    actions = []
    for position in Position.objects.open().filter(account=account).select_related("market").order_by("pk"):
        try:
            closing = position_close(
                actor=None, position_id=position.pk, reason=event.reason, via="system", fraction=Decimal("0.5")
            )
            actions.append(f"halved {position.market.symbol}: {closing.describe()}")
        except ApplicationError as error:
            actions.append(f"{position.market.symbol} not halved: {error.message}")
    return actions or ["no open position to halve"]


def _drawdown_event(event: DrawdownEvent, *, priority: str) -> None:
    payload = {
        "drawdown_event": event.pk,
        "level": event.level,
        "stance": event.stance,
        "limit": event.limit,
        "actual": round(event.actual, 6),
        "value": str(event.value),
        "peak": str(event.peak),
        "actions": event.actions,
        "priority": priority,
        "reason": event.reason,
    }
    event_record("goal.drawdown_breached", payload, account=event.account_id)


def drawdown_pause_reason(*, account_id: int, now: datetime) -> str:
    """Why entries are refused: this month's latest breach a trader has not cleared ('' none)."""
    event = (
        DrawdownEvent.objects.filter(account_id=account_id, month=rules.month_start(now).date(), cleared_at__isnull=True)
        .order_by("-id")
        .first()
    )
    return event.reason if event is not None else ""


def drawdown_clear(*, actor, account_id: int, reason: str, via: str | None = None) -> int:
    """A trader lets entries resume this month (the breaches stay recorded, and a level not yet
    reached can still pause them again). Audited; returns the events cleared."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="goal.drawdown_clear",
        object_type="exchanges.exchangeaccount",
        object_id=account_id,
        reason=reason,
    ):
        missing = f"no account #{account_id} among your accounts"
        if not ExchangeAccount.objects.filter(pk=account_id).exists():
            raise NotFound(missing)
        account_action_authorize(
            actor=actor, account_id=account_id, role=Role.TRADER, doing="resume entries after a goal drawdown", missing=missing
        )
        now = timezone.now()
        with transaction.atomic():
            pending = DrawdownEvent.objects.select_for_update().filter(
                account_id=account_id, month=rules.month_start(now).date(), cleared_at__isnull=True
            )
            levels = list(pending.values_list("level", flat=True))
            if not levels:
                raise Conflict("entries are not paused by the goal drawdown protection this month: nothing to clear")
            cleared = pending.update(cleared_at=now, cleared_by=actor)
            SizingStance.objects.filter(account_id=account_id).update(entries_paused="")
            audit_record(
                actor=actor,
                via=via,
                action="goal.drawdown_clear",
                object_type="exchanges.exchangeaccount",
                object_id=account_id,
                reason=reason,
                before={"paused_levels": levels},
                after={"paused_levels": []},
            )
            event_record(
                "goal.drawdown_cleared",
                {"account": account_id, "cleared": levels, "by": actor.get_username() if actor else "system", "reason": reason},
                account=account_id,
            )
    return cleared


def goal_adjustments_record(*, sizings) -> None:
    """Log a placement batch's sizing decisions (apps.risk.sizing.EntrySizing), in one COPY
    (apps.common.bulk: bulk_create's per-value array quoting was most of goal sizing's cost on
    placement) in its own savepoint: a failure to log never undoes the placement (it is logged instead)."""
    rows = [
        GoalAdjustment(
            account_id=sizing.account_id,
            signal_id=sizing.signal_id,
            base_size=sizing.base_size,
            pace_factor=(sizing.factors or {}).get("pace"),
            early_month_factor=(sizing.factors or {}).get("early_month"),
            preservation_factor=(sizing.factors or {}).get("preservation"),
            final_factor=sizing.factor,
            final_size=sizing.final_size,
            capped_by=sizing.capped_by,
            reason=sizing.reason[:4000],
        )
        for sizing in sizings
    ]
    try:
        with transaction.atomic():
            rows_write(GoalAdjustment, rows)
    except Exception:
        log.exception("goal adjustments not recorded", signals=[sizing.signal_id for sizing in sizings])


def goal_activated(*, goal: Goal) -> None:
    """Record where a portfolio goal starts its path to the deadline (the equity when activated)."""
    if goal.active and goal.set_at is None:
        figures = goal_figures(account_ids=goal_account_ids(goal), month_start=rules.month_start(timezone.now()))
        goal.set_at, goal.set_value = timezone.now(), figures.equity
        Goal.objects.filter(pk=goal.pk).update(set_at=goal.set_at, set_value=goal.set_value)


# --- goals a person sets (API, pages) --------------------------------------------------------

GOAL_FIELDS = ("account", "kind", "target", "deadline", "active", "catch_up_enabled")


def _goal_state(goal: Goal) -> dict:
    return {name: getattr(goal, f"{name}_id" if name == "account" else name) for name in GOAL_FIELDS}


def goal_save(*, actor, values: dict, goal_id: int | None = None, via: str | None = None) -> Goal:
    """Create (goal_id None) or change a goal: checked by the one goal validation (every bad
    field at once), a trader's for an account's goal, an admin's for a goal of all accounts.
    Audited; the sizing stances are refreshed so a goal switched on or off counts at once."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="goal.create" if goal_id is None else "goal.change",
        object_type=Goal._meta.label_lower,
        object_id=goal_id or "",
    ):
        goal = Goal() if goal_id is None else Goal.objects.filter(pk=goal_id).first()
        if goal is None:
            raise NotFound(f"no goal #{goal_id} on your accounts")
        before = _goal_state(goal) if goal_id else None
        if goal_id is not None:
            _goal_authorize(actor, goal.account_id, goal_id)
        merged = {**_goal_state(goal), **values}
        _goal_authorize(actor, merged["account"], goal_id)
        deadline_changed = "deadline" in values and values["deadline"] != goal.deadline
        merged["target"] = goal_validate(merged, now=timezone.now() if deadline_changed else None)
        with transaction.atomic():
            goal.account_id = merged["account"]
            for name in GOAL_FIELDS[1:]:
                setattr(goal, name, merged[name])
            goal.save()
            goal_activated(goal=goal)
            audit_record(
                actor=actor,
                via=via,
                action="goal.create" if goal_id is None else "goal.change",
                obj=goal,
                before=before,
                after=_goal_state(goal),
            )
    sizing_stances_refresh()
    return goal


def goal_delete(*, actor, goal_id: int, via: str | None = None) -> None:
    with audit_refusals(actor=actor, via=via, action="goal.delete", object_type=Goal._meta.label_lower, object_id=goal_id):
        goal = Goal.objects.filter(pk=goal_id).first()
        if goal is None:
            raise NotFound(f"no goal #{goal_id} on your accounts")
        _goal_authorize(actor, goal.account_id, goal_id)
        with transaction.atomic():
            audit_record(actor=actor, via=via, action="goal.delete", obj=goal, before=_goal_state(goal))
            goal.delete()
    sizing_stances_refresh()


def _goal_authorize(actor, account_id: int | None, goal_id: int | None) -> None:
    missing = f"no goal #{goal_id} on your accounts" if goal_id else f"no account #{account_id} among your accounts"
    if account_id is not None and not ExchangeAccount.objects.filter(pk=account_id).exists():
        raise Invalid.from_fields({"account": f"There is no account #{account_id}."})
    account_action_authorize(actor=actor, account_id=account_id, role=Role.TRADER, doing="set goals", missing=missing)
