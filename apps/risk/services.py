"""The risk engine's writes: decide (pure rules, apps/engine/risk_rules.py) and record every
decision with its reasons; kill switches."""

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from apps.common.audit import audit_diff, audit_record, audit_refusals, audit_snapshot
from apps.common.bulk import unsaved
from apps.common.errors import Conflict, Invalid, NotAllowed, NotFound
from apps.common.events import event_build, event_record
from apps.common.models import Event
from apps.common.validation import NON_FIELD
from apps.engine.risk_rules import Decision, DeskState, KillState, Proposal, risk_evaluate
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.roles import Role
from apps.risk.models import KillSwitch, RiskEvent, RiskLimits
from apps.risk.validation import LIMITS, risk_limits_validate


def _topic(account_id) -> dict:
    """risk.<account>, or risk.global for the desk-wide kill switch."""
    return {"account": account_id} if account_id else {}


def risk_decide(*, state: DeskState, proposal: Proposal, limits) -> Decision:
    """The risk decision over plain data: the desk's state as the caller read it, the proposal
    and the limits in force (the rules are pure: apps/engine/risk_rules.py)."""
    return risk_evaluate(proposal, state, limits)


def risk_event_build(
    *, signal, account_id, strategy_id, decision: Decision | None = None, rule: str = "", reason: str = ""
) -> RiskEvent:
    """An unsaved RiskEvent for a decision of the rules, or for a refusal decided outside them
    (nothing to close, shorting on spot...); the caller saves it with its outbox event."""
    signal_id = signal.pk if signal is not None else None
    if decision is None:
        return unsaved(
            RiskEvent,
            account_id=account_id,
            strategy_id=strategy_id,
            signal_id=signal_id,
            decision=RiskEvent.Decision.REJECTED,
            rules=[rule],
            reason=reason,
        )
    return unsaved(
        RiskEvent,
        account_id=account_id,
        strategy_id=strategy_id,
        signal_id=signal_id,
        rules=[check.rule for check in decision.failed],
        reason=decision.reason,
        checks=[{"rule": check.rule, "passed": check.passed, "detail": check.detail} for check in decision.checks],
        decision=RiskEvent.Decision.ALLOWED if decision.allowed else RiskEvent.Decision.REJECTED,
    )


def risk_event_outbox(event: RiskEvent) -> Event:
    """The (unsaved) outbox event of a saved decision."""
    kind = "risk.allowed" if event.decision == RiskEvent.Decision.ALLOWED else "risk.rejected"
    return event_build(
        kind,
        {
            "risk_event": event.pk,
            "signal": event.signal_id,
            "strategy": event.strategy_id,
            "rules": event.rules,
            "reason": event.reason,
        },
        **_topic(event.account_id),
    )


def risk_action_record(*, account_id, strategy_id=None, rule: str, reason: str) -> RiskEvent:
    event = RiskEvent.objects.create(
        account_id=account_id, strategy_id=strategy_id, decision=RiskEvent.Decision.ACTION, rules=[rule], reason=reason
    )
    event_record(
        "risk.action_taken",
        {"risk_event": event.pk, "rule": rule, "reason": reason, "strategy": strategy_id},
        **_topic(account_id),
    )
    return event


def kill_switch_banner(switch: KillSwitch) -> str:
    """What every page's banner says of a switch that is not ACTIVE ("" when it is)."""
    if switch.state == KillState.ACTIVE:
        return ""
    scope = f"Account {switch.account.name}" if switch.account_id else "The whole desk"
    words = "HALTED: no orders at all" if switch.state == KillState.HALTED else "REDUCE ONLY: exits only, no new entries"
    return f"{scope} is {words}" + (f" — {switch.reason}" if switch.reason else "")


def kill_switch_set(*, actor, account=None, state: str, reason: str = "", via: str | None = None) -> KillSwitch:
    """Takes effect before the next order: orders are placed under the account's row lock and
    read the switch there; a submit that has not left yet re-checks it. An account's switch
    needs the trader role on it, the global one (account None) an admin. Audited, refusals too."""
    account_id = account.pk if account else None
    with audit_refusals(
        actor=actor,
        via=via,
        action="kill_switch.set",
        object_type=KillSwitch._meta.label_lower,
        object_id=f"account {account_id}" if account else "global",
        reason=reason,
    ):
        if state not in {kill.value for kill in KillState}:
            raise Invalid.from_fields({"state": f"choose one of {', '.join(kill.value for kill in KillState)} (not {state!r})"})
        account_action_authorize(
            actor=actor,
            account_id=account_id,
            role=Role.TRADER,
            doing="set the global kill switch" if account is None else "set the kill switch",
            missing=f"no account #{account_id} among your accounts",
        )
        return _kill_switch_change(actor=actor, account=account, state=state, reason=reason, via=via)


def _kill_switch_change(*, actor, account, state: str, reason: str, via: str | None) -> KillSwitch:
    with transaction.atomic():
        switch, _ = KillSwitch.objects.select_for_update().get_or_create(account=account)
        before = {"state": switch.state, "reason": switch.reason}
        switch.state, switch.reason = state, reason[:300]
        switch.save()
        scope = f"account {account.name}" if account else "global"
        risk_action_record(
            account_id=account.pk if account else None,
            rule="kill_switch",
            reason=f"{scope} kill switch set to {state.upper()}" + (f": {reason}" if reason else ""),
        )
        event_record(
            "kill_switch.changed",
            {
                "account": account.pk if account else None,
                "state": switch.state,
                "reason": switch.reason,
                "banner": kill_switch_banner(switch),
            },
            **_topic(account.pk if account else None),
        )
        audit_record(
            actor=actor,
            via=via,
            action="kill_switch.set",
            obj=switch,
            reason=reason,
            before=before,
            after={"state": switch.state, "reason": switch.reason},
        )
    return switch


def risk_event_acknowledge(*, actor, risk_event_id: int, via: str | None = None) -> RiskEvent:
    """A person says they have seen a risk event (it leaves the unacknowledged count). An
    account's event needs the trader role on it, a desk-wide one (no account) an admin.
    Audited, refusals too; acknowledging twice is a Conflict naming who did it first."""
    with audit_refusals(
        actor=actor, via=via, action="risk_event.acknowledge", object_type=RiskEvent._meta.label_lower, object_id=risk_event_id
    ):
        event = RiskEvent.objects.filter(pk=risk_event_id).first()
        missing = f"no risk event #{risk_event_id} on your accounts"
        if event is None:
            raise NotFound(missing)
        account_action_authorize(
            actor=actor,
            account_id=event.account_id,
            role=Role.TRADER,
            doing="acknowledge desk-wide risk events" if event.account_id is None else "acknowledge risk events",
            missing=missing,
        )
        with transaction.atomic():
            locked = RiskEvent.objects.select_for_update().get(pk=event.pk)
            if locked.acknowledged_at is not None:
                who = locked.acknowledged_by.get_username() if locked.acknowledged_by else "someone"
                raise Conflict(
                    f"risk event #{locked.pk} was already acknowledged by {who} at {locked.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC"
                )
            locked.acknowledged_at = timezone.now()
            locked.acknowledged_by = actor if actor is not None and actor.is_authenticated else None
            locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
            audit_record(
                actor=actor,
                via=via,
                action="risk_event.acknowledge",
                obj=locked,
                before={"acknowledged_at": None},
                after={"acknowledged_at": locked.acknowledged_at},
            )
        return locked


# --- Risk limits: an admin's to set, every change audited ---------------------------------------

LIMITS_DOING = "set risk limits"


def risk_limits_create(*, actor, values: Mapping, via: str | None = None) -> RiskLimits:
    """Limits for one account or one strategy (`account` or `strategy`: an id), which has none yet."""
    with audit_refusals(
        actor=actor, via=via, action="risk_limits.create", object_type=RiskLimits._meta.label_lower, object_id=""
    ):
        owner = _limits_owner(actor, values)
        limits = _stored(risk_limits_validate({name: values[name] for name in LIMITS if name in values}))
        with transaction.atomic():
            row = RiskLimits.objects.create(**owner, **limits)
            audit_record(actor=actor, via=via, action="risk_limits.create", obj=row, after=audit_snapshot(row))
    return row


def risk_limits_update(*, actor, limits: RiskLimits, values: Mapping, via: str | None = None) -> RiskLimits:
    """Change the limits given in `values` (blank = no limit, or the default); the account or
    strategy they belong to stays. Desk-wide limits (of no account) are a superuser's."""
    with audit_refusals(
        actor=actor, via=via, action="risk_limits.update", object_type=RiskLimits._meta.label_lower, object_id=limits.pk
    ):
        account_id = limits.account_id or (limits.strategy.account_id if limits.strategy_id else None)
        _limits_authorize(actor, account_id, missing=f"no risk limits #{limits.pk} on your accounts")
        unknown = sorted(set(values) - set(LIMITS) - {"account", "strategy"})
        moved = [name for name in ("account", "strategy") if name in values and values[name] != getattr(limits, f"{name}_id")]
        if unknown or moved:
            raise Invalid.from_fields(
                {name: "not a risk limit" for name in unknown}
                | {name: "limits stay with their account or strategy: create new ones for another" for name in moved}
            )
        parsed = _stored(risk_limits_validate({name: values[name] for name in LIMITS if name in values}))
        with transaction.atomic():
            locked = RiskLimits.objects.select_for_update().get(pk=limits.pk)
            before = audit_snapshot(locked)
            for name, value in parsed.items():
                setattr(locked, name, value)
            locked.save()
            before, after = audit_diff(before, audit_snapshot(locked))
            if after:
                audit_record(actor=actor, via=via, action="risk_limits.update", obj=locked, before=before, after=after)
    return locked


def _limits_owner(actor, values: Mapping) -> dict:
    """{"account": ...} or {"strategy": ...}, the one the actor administers and that has no limits yet."""
    account_id, strategy_id = values.get("account"), values.get("strategy")
    if bool(account_id) == bool(strategy_id):
        raise Invalid.from_fields(
            {NON_FIELD: "Risk limits belong to exactly one account or one strategy: give account or strategy."}
        )
    for name, value in (("account", account_id), ("strategy", strategy_id)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63):
            raise Invalid.from_fields({name: f"give the {name}'s id (a whole number); got {value!r}"})
    if strategy_id:
        strategy = RiskLimits._meta.get_field("strategy").related_model.objects.filter(pk=strategy_id).first()
        _limits_authorize(actor, strategy.account_id if strategy else -1, missing=f"no strategy #{strategy_id} on your accounts")
        owner = {"strategy": strategy}
    else:
        _limits_authorize(actor, account_id, missing=f"no account #{account_id} among your accounts")
        owner = {"account_id": account_id}
    existing = RiskLimits.objects.filter(**owner).first()
    if existing is not None:
        raise Conflict(f"This {next(iter(owner)).removesuffix('_id')} has risk limits already (#{existing.pk}): change those.")
    return owner


def _limits_authorize(actor, account_id: int | None, *, missing: str) -> None:
    if account_id is None and actor is not None and not actor.is_superuser:
        raise NotAllowed("Desk-wide risk limits bind every account: only a superuser changes them.")
    account_action_authorize(actor=actor, account_id=account_id, role=Role.ADMIN, doing=LIMITS_DOING, missing=missing)


def _stored(parsed: dict) -> dict:
    """Counts as the whole numbers their columns hold (the audit shows 3, not 3.0)."""
    return {name: int(value) if value is not None and LIMITS[name].whole else value for name, value in parsed.items()}
