"""What a person does with an alert: acknowledge it ("I am on it": escalation stops), resolve it
("dealt with"), or snooze it until a time (it comes back as triggered then). One service each,
shared by the cockpit's risk page, the admin and the API: each takes the actor and the interface
(`via`), checks the trader role and the account's membership (an alert outside one's accounts
is not found), and audits every attempt, refused ones too."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.alerts.models import Alert
from apps.common.audit import audit_record, audit_refusals
from apps.common.errors import Conflict, Invalid, NotAllowed, NotFound
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.roles import Role, user_has_role, user_role

SNOOZE_MINUTES_MAX = 7 * 24 * 60
Status = Alert.Status


def alert_acknowledge(*, actor, alert_id: int, via: str | None = None, reason: str = "") -> Alert:
    def change(alert: Alert, now) -> None:
        if alert.status in (Status.ACKNOWLEDGED, Status.RESOLVED):
            raise Conflict(f"alert #{alert.pk} was already {_who_did(alert)}")
        alert.status, alert.snoozed_until = Status.ACKNOWLEDGED, None
        alert.acknowledged_by, alert.acknowledged_at = _person(actor), now

    return _alert_change(actor=actor, alert_id=alert_id, via=via, reason=reason, verb="acknowledge", change=change)


def alert_resolve(*, actor, alert_id: int, via: str | None = None, reason: str = "") -> Alert:
    def change(alert: Alert, now) -> None:
        if alert.status == Status.RESOLVED:
            raise Conflict(f"alert #{alert.pk} was already {_who_did(alert)}")
        if alert.acknowledged_at is None:  # resolving says one has seen it too
            alert.acknowledged_by, alert.acknowledged_at = _person(actor), now
        alert.status, alert.snoozed_until = Status.RESOLVED, None
        alert.resolved_by, alert.resolved_at = _person(actor), now

    return _alert_change(actor=actor, alert_id=alert_id, via=via, reason=reason, verb="resolve", change=change)


def alert_snooze(*, actor, alert_id: int, minutes, via: str | None = None, reason: str = "") -> Alert:
    """Quiet until now + minutes; then it is triggered again (and escalates if critical)."""
    minutes = _snooze_minutes(minutes)

    def change(alert: Alert, now) -> None:
        if alert.status == Status.RESOLVED:
            raise Conflict(f"alert #{alert.pk} is resolved: there is nothing to snooze")
        alert.status, alert.snoozed_until = Status.SNOOZED, now + timedelta(minutes=minutes)

    return _alert_change(actor=actor, alert_id=alert_id, via=via, reason=reason, verb="snooze", change=change)


def snoozes_expire(*, now=None) -> int:
    """Snoozed alerts whose time has come are triggered again (the system's act, on the beat):
    they count as unacknowledged, and a critical one is sent again at once if its last message
    is older than the escalation period (apps.alerts.services.alerts_escalate)."""
    now = now or timezone.now()
    return Alert.objects.filter(status=Status.SNOOZED, snoozed_until__lte=now).update(status=Status.TRIGGERED, snoozed_until=None)


def _alert_change(*, actor, alert_id: int, via: str | None, reason: str, verb: str, change) -> Alert:
    with audit_refusals(
        actor=actor, via=via, action=f"alert.{verb}", object_type=Alert._meta.label_lower, object_id=alert_id, reason=reason
    ):
        alert = Alert.objects.filter(pk=alert_id).first()
        missing = f"no alert #{alert_id} on your accounts"
        if alert is None:
            raise NotFound(missing)
        _authorize(actor, alert, doing=f"{verb} alerts", missing=missing)
        with transaction.atomic():
            locked = Alert.objects.select_for_update().get(pk=alert.pk)
            before = _state(locked)
            change(locked, timezone.now())
            locked.save()
            audit_record(
                actor=actor, via=via, action=f"alert.{verb}", obj=locked, reason=reason, before=before, after=_state(locked)
            )
        return locked


def _authorize(actor, alert: Alert, *, doing: str, missing: str) -> None:
    """An account's alert: the trader role and membership of the account. A desk-wide one (the
    global kill switch) concerns every trader: the role is enough."""
    if alert.account_id is not None:
        account_action_authorize(actor=actor, account_id=alert.account_id, role=Role.TRADER, doing=doing, missing=missing)
    elif actor is not None and not user_has_role(actor, Role.TRADER):
        held = user_role(actor)
        raise NotAllowed(
            f"{actor.get_username()} may not {doing}: that needs the trader role "
            f"({'yours is ' + held.group_name if held else 'you hold no role on the desk'})."
        )


def _snooze_minutes(minutes) -> int:
    try:
        value = int(minutes)
    except (TypeError, ValueError):
        value = None
    if value is None or not 1 <= value <= SNOOZE_MINUTES_MAX:
        raise Invalid.from_fields({"minutes": f"give whole minutes from 1 to {SNOOZE_MINUTES_MAX} (a week), not {minutes!r}"})
    return value


def _who_did(alert: Alert) -> str:
    if alert.status == Status.RESOLVED:
        who, at = alert.resolved_by, alert.resolved_at
    else:
        who, at = alert.acknowledged_by, alert.acknowledged_at
    name = who.get_username() if who else "someone"
    return f"{alert.get_status_display().lower()} by {name}" + (f" at {at:%Y-%m-%d %H:%M:%S} UTC" if at else "")


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _state(alert: Alert) -> dict:
    return {"status": alert.status, "snoozed_until": alert.snoozed_until}
