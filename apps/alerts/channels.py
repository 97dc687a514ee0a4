"""Channels outside the admin's form: adding one (`manage.py alerts_channel_add`) and sending a test
message (the admin's "send test" action, `manage.py alerts_test`). One check of a channel's
settings for the admin form and the command (`channel_errors`); adding needs the admin role and
is audited without its secrets."""

from django.db import transaction
from django.utils import timezone

from apps.alerts import render
from apps.alerts.models import Channel, Priority
from apps.alerts.senders import SendResult, send
from apps.common.audit import audit_record, audit_refusals, audit_snapshot
from apps.common.errors import Invalid, NotAllowed
from apps.exchanges.roles import Role, user_has_role

NEEDED = {
    Channel.Kind.TELEGRAM: {"secret": "the bot token", "address": "the chat id"},
    Channel.Kind.DISCORD: {"url": "the webhook URL"},
    Channel.Kind.SLACK: {"url": "the webhook URL"},
    Channel.Kind.WEBHOOK: {"url": "the URL"},
    Channel.Kind.EMAIL: {"smtp_host": "the SMTP host", "address": "the recipients", "email_from": "the sender"},
}


def channel_errors(values: dict) -> dict[str, str]:
    """Every missing or malformed setting of the chosen kind, at once."""
    kind = values.get("kind")
    if kind not in Channel.Kind.values:
        return {"kind": f"choose one of {', '.join(Channel.Kind.values)}"}
    errors = {
        field: f"A {Channel.Kind(kind).label} channel needs {what}."
        for field, what in NEEDED.get(kind, {}).items()
        if not values.get(field)
    }
    url = values.get("url") or ""
    if url and kind != Channel.Kind.EMAIL and not url.startswith(("http://", "https://")):
        errors["url"] = "Give a full http:// or https:// address."
    if bool(values.get("quiet_from")) != bool(values.get("quiet_until")):
        errors["quiet_until" if values.get("quiet_from") else "quiet_from"] = "Quiet hours need both a start and an end."
    return errors


def channel_add(*, actor, values: dict, via: str | None = None) -> Channel:
    with audit_refusals(actor=actor, via=via, action="alert_channel.add", object_type=Channel._meta.label_lower, object_id=""):
        if actor is not None and not user_has_role(actor, Role.ADMIN):
            raise NotAllowed(f"{actor.get_username()} may not add alert channels: that needs the admin role.")
        if errors := channel_errors(values):
            raise Invalid.from_fields(errors)
        with transaction.atomic():
            channel = Channel.objects.create(**values)
            audit_record(actor=actor, via=via, action="alert_channel.add", obj=channel, after=audit_snapshot(channel))
        return channel


def channel_test(*, actor, channel: Channel, via: str | None = None) -> SendResult:
    """One test message to the channel, now (not through the pipeline: the answer is shown at
    once). Audited with its outcome."""
    with audit_refusals(
        actor=actor, via=via, action="alert_channel.test", object_type=Channel._meta.label_lower, object_id=channel.pk
    ):
        if actor is not None and not user_has_role(actor, Role.ADMIN):
            raise NotAllowed(f"{actor.get_username()} may not test alert channels: that needs the admin role.")
        result = send(channel, _test_message(channel))
        audit_record(
            actor=actor, via=via, action="alert_channel.test", obj=channel, reason=f"{result.outcome}: {result.response}"
        )
        return result


def _test_message(channel: Channel) -> render.Message:
    now = timezone.now()
    return render.Message(
        key=f"test:{channel.pk}:{now.timestamp():.0f}",
        kind="test",
        priority=Priority.NORMAL,
        title="Test message from the desk",
        body=f"Channel “{channel.name}” works: alerts will reach you here.",
        account=channel.account.name if channel.account else "desk-wide",
        at=now,
    )
