"""The alert pipeline: outbox events -> alerts -> deliveries -> messages at the receivers.

One tick (`alerts_tick`, run by beat every few seconds on the `alerts` queue) does three things:
1. releases digests: throttled deliveries whose 5-minute window has closed become one message,
   "<latest title> … and N more";
2. dispatches: reads the events after the "alerts" cursor and, in ONE transaction, creates each
   Alert (unique dedup key), its Delivery rows (unique per alert and channel) and moves the
   cursor. A crash before the commit leaves nothing and the events are read again; after it,
   the rows exist and the cursor has moved: no event is skipped and none alerts twice;
3. sends the due deliveries, each channel in its own thread (a critical alert reaches all
   channels at once; a slow receiver holds back no other), and records each outcome.

A delivery is marked "sending" (committed) before its message leaves. If the process dies during
that HTTP call or SMTP dialogue, nobody knows whether the receiver got it (outcome unknown):
after ALERTS_SENDING_STALE_SECONDS it is sent again, if attempts remain — an alert told twice
beats a kill switch nobody heard of. Webhooks carry the alert's key (Idempotency-Key) so a
receiver can drop the repeat. Only that window can repeat a message.

Gaps: on PostgreSQL a lower event id can commit after a higher one. The dispatcher stops at a
missing id until the event after it is ALERTS_GAP_WAIT_SECONDS old (its transaction would have
committed by then), as the relay does (apps/web/relay.py), without keeping state between ticks.
"""

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from apps.alerts import render
from apps.alerts.actions import snoozes_expire
from apps.alerts.kinds import AlertSpec, built_in_alert, event_account_id, rule_alert
from apps.alerts.models import Alert, AlertRule, Channel, Delivery, Priority
from apps.alerts.senders import SendResult, send
from apps.alerts.summary import summaries_raise
from apps.alerts.watch import rules_due, rules_evaluate
from apps.common.cursors import cursor_advance
from apps.common.models import Event, EventCursor
from apps.exchanges.selectors import accounts_visible_to

logger = logging.getLogger(__name__)

CURSOR_NAME = "alerts"
BATCH_SIZE = 500
OPEN = (Delivery.Outcome.PENDING, Delivery.Outcome.SENDING, Delivery.Outcome.SENT, Delivery.Outcome.FAILED)


@dataclass
class TickReport:
    events: int = 0
    alerts: int = 0
    sent: int = 0
    digests: int = 0
    reminders: int = 0


def alerts_tick(*, budget_seconds: float | None = None, stop: threading.Event | None = None) -> TickReport:
    """One round of the pipeline (see the module's docstring); bounded in time so beat's next
    tick finds the worker free."""
    budget = settings.ALERTS_TICK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    snoozes_expire()
    report = TickReport(digests=digests_release(), reminders=alerts_escalate())
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        events, alerts = alerts_dispatch_pass()
        report.events, report.alerts = report.events + events, report.alerts + alerts
        if events < BATCH_SIZE:
            break
    if rules_due():
        report.alerts += condition_alerts_raise()
    report.sent = deliveries_send_due(stop=stop, budget_seconds=max(1.0, deadline - time.monotonic()))
    return report


# --- 2. Events -> alerts and deliveries -----------------------------------------------------


def alerts_dispatch_pass(*, limit: int = BATCH_SIZE) -> tuple[int, int]:
    """Handle the next events after the cursor: (events handled, alerts raised)."""
    with transaction.atomic():
        cursor = _cursor_locked()
        if cursor is None:
            return 0, 0  # another dispatcher holds the cursor: it is doing this work
        events = _ready_events(
            list(Event.objects.filter(id__gt=cursor.last_event_id).order_by("id")[:limit]), after=cursor.last_event_id
        )
        if not events:
            return 0, 0
        routing = Routing.load()
        raised = alerts_raise((spec, routing.targets(spec)) for spec in _specs(events, routing))
        cursor_advance(name=CURSOR_NAME, last_event_id=events[-1].id)
    return len(events), raised


def condition_alerts_raise() -> int:
    """The condition rules' alerts (apps.alerts.watch), raised and routed like the events'."""
    found = rules_evaluate()
    if not found:
        return 0
    routing = Routing.load()
    with transaction.atomic():
        return alerts_raise((spec, routing.rule_targets(rule, spec)) for rule, spec in found)


def daily_summaries_send(*, now=None) -> int:
    """Today's summary per account (apps.alerts.summary) to the channels that see the account;
    a second call the same day raises nothing (one dedup key per account and day)."""
    specs = summaries_raise(now=now)
    routing = Routing.load()
    with transaction.atomic():
        return alerts_raise((spec, routing.targets(spec)) for spec in specs)


def _cursor_locked() -> EventCursor | None:
    """The dispatcher's cursor, locked for this transaction; None when another pass holds it.
    The first dispatcher of a desk starts ALERTS_BACKLOG_MINUTES back: recent events alert,
    months of history do not."""
    cursor = EventCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR_NAME).first()
    if cursor is not None:
        return cursor
    if EventCursor.objects.filter(name=CURSOR_NAME).exists():
        return None
    since = timezone.now() - timedelta(minutes=settings.ALERTS_BACKLOG_MINUTES)
    start = Event.objects.filter(created_at__lt=since).aggregate(last=Max("id"))["last"] or 0
    cursor, _ = EventCursor.objects.get_or_create(name=CURSOR_NAME, defaults={"last_event_id": start})
    return EventCursor.objects.select_for_update().get(pk=cursor.pk)


def _ready_events(events: list[Event], *, after: int) -> list[Event]:
    """The events up to the first gap that may still fill (see the module's docstring)."""
    ready, last_id = [], after
    settled = timezone.now() - timedelta(seconds=settings.ALERTS_GAP_WAIT_SECONDS)
    for event in events:
        if event.id != last_id + 1 and event.created_at > settled:
            break
        if event.id != last_id + 1:
            logger.warning("alerts: moved past missing event ids %s..%s", last_id + 1, event.id - 1)
        ready.append(event)
        last_id = event.id
    return ready


def _specs(events: Iterable[Event], routing: "Routing") -> Iterable[AlertSpec]:
    for event in events:
        spec = built_in_alert(event)
        if spec is None:
            priority = routing.rule_priority(event.kind, event_account_id(event))
            spec = rule_alert(event, priority=priority) if priority is not None else None
        if spec is not None:
            yield spec


@dataclass
class Routing:
    """Active channels and rules, read once per pass."""

    channels: list[Channel]
    rules: list[AlertRule]
    owner_accounts: dict[int, set[int] | None]  # owner id -> accounts they see (None: all)

    @classmethod
    def load(cls) -> "Routing":
        channels = list(Channel.objects.filter(active=True).select_related("owner"))
        rules = list(
            AlertRule.objects.filter(active=True, condition=AlertRule.Condition.EVENTS).prefetch_related("accounts", "channels")
        )
        owners = {channel.owner for channel in channels if channel.owner is not None}
        owner_accounts = {
            owner.pk: None if owner.is_superuser else set(accounts_visible_to(user=owner).values_list("pk", flat=True))
            for owner in owners
        }
        return cls(channels, rules, owner_accounts)

    def rule_priority(self, event_kind: str, account_id: int | None) -> int | None:
        """The priority rules give a kind that is not built in; None when no rule that applies to
        the event's account names it."""
        named = [
            rule.priority
            for rule in self.rules
            if event_kind in (rule.event_kinds or []) and _rule_owns(rule, account_id, built_in=False)
        ]
        return max(named) if named else None

    def targets(self, spec: AlertSpec) -> list[Channel]:
        """Every channel that may see the alert and wants it: by its least priority (built-in
        kinds), or through a matching rule (its channels; none named: all that may see it)."""
        wanted = {
            channel.pk: channel
            for channel in self.channels
            if spec.built_in and self._sees(channel, spec) and spec.priority >= channel.min_priority
        }
        for rule in self.rules:
            if not self._rule_matches(rule, spec):
                continue
            chosen = rule.channels.all() or self.channels
            wanted.update({channel.pk: channel for channel in chosen if channel.active and self._sees(channel, spec)})
        return sorted(wanted.values(), key=lambda channel: channel.pk)

    def rule_targets(self, rule: AlertRule, spec: AlertSpec) -> list[Channel]:
        """A condition rule's alert: the rule's channels (none named: every channel that may see it)."""
        chosen = rule.channels.all() or self.channels
        return sorted((c for c in chosen if c.active and self._sees(c, spec)), key=lambda channel: channel.pk)

    def _sees(self, channel: Channel, spec: AlertSpec) -> bool:
        if spec.account_id is None:
            return True  # desk-wide (the global kill switch) concerns everyone
        if channel.account_id is not None and channel.account_id != spec.account_id:
            return False
        if channel.owner_id is None:
            return True
        accounts = self.owner_accounts.get(channel.owner_id)
        return accounts is None or spec.account_id in accounts

    @staticmethod
    def _rule_matches(rule: AlertRule, spec: AlertSpec) -> bool:
        kinds = rule.event_kinds or []
        if kinds and spec.kind not in kinds and spec.event_kind not in kinds:
            return False
        if not kinds and not spec.built_in:
            return False
        if not _rule_owns(rule, spec.account_id, built_in=spec.built_in):
            return False
        accounts = {account.pk for account in rule.accounts.all()}
        return spec.priority >= rule.min_priority and (not accounts or spec.account_id in accounts)


def _rule_owns(rule: AlertRule, account_id: int | None, *, built_in: bool) -> bool:
    """A rule of an account (a trader's) applies to that account's events only, as its condition
    rules watch that account only (apps.alerts.watch.rule_accounts); a desk-wide built-in alert
    (the global kill switch) concerns it too. The desk's rules (no account) apply everywhere."""
    if rule.account_id is None:
        return True
    return account_id == rule.account_id or (account_id is None and built_in)


def alerts_raise(wanted: Iterable[tuple[AlertSpec, list[Channel]]]) -> int:
    """Create the alerts (each with its deliveries) whose dedup key raised none yet, in a few
    statements for the whole batch (a flood of 10,000 events a minute must not fall behind).
    Returns how many alerts are new. Callers hold the dispatcher's cursor lock or raise keys no
    other process raises, so a key cannot be created twice between the read and the insert;
    the unique key would refuse it anyway."""
    wanted = list(wanted)
    existing = set(Alert.objects.filter(dedup_key__in={spec.dedup_key for spec, _ in wanted}).values_list("dedup_key", flat=True))
    fresh = []
    for spec, channels in wanted:
        if spec.dedup_key not in existing:
            existing.add(spec.dedup_key)  # the same key twice in one batch: one alert
            fresh.append((spec, channels))
    if not fresh:
        return 0
    alerts = Alert.objects.bulk_create(
        [
            Alert(
                dedup_key=spec.dedup_key,
                kind=spec.kind,
                priority=spec.priority,
                account_id=spec.account_id,
                title=spec.title,
                body=spec.body,
                event_id=spec.event_id,
            )
            for spec, _ in fresh
        ]
    )
    now, held = timezone.now(), set()  # (channel, kind, account) found held in this batch: no query for the next
    deliveries = [
        _delivery_new(alert, channel, now, held)
        for alert, (_, channels) in zip(alerts, fresh, strict=True)
        for channel in channels
    ]
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return len(alerts)


def _delivery_new(alert: Alert, channel: Channel, now, held: set) -> Delivery:
    key = (channel.pk, alert.kind, alert.account_id)
    throttled = alert.priority < Priority.CRITICAL and (key in held or _throttled(alert, channel, now))
    if alert.priority < Priority.CRITICAL:
        held.add(key)  # whatever this one is, the next of the same key in this batch waits
    quiet_end = channel.quiet_end(now) if alert.priority < Priority.CRITICAL else None  # critical wakes them
    return Delivery(
        alert=alert,
        channel=channel,
        created_at=now,
        next_attempt_at=quiet_end or now,
        outcome=Delivery.Outcome.THROTTLED if throttled else Delivery.Outcome.PENDING,
    )


def _throttled(alert: Alert, channel: Channel, now) -> bool:
    """The same kind on the same account reached this channel in the window: hold it for the
    digest. Critical alerts are never held back."""
    if alert.priority >= Priority.CRITICAL:
        return False
    window_start = now - timedelta(seconds=settings.ALERTS_THROTTLE_SECONDS)
    same = Delivery.objects.filter(channel=channel, alert__kind=alert.kind, alert__account_id=alert.account_id)
    return (
        same.filter(outcome__in=OPEN, created_at__gt=window_start).exclude(alert=alert).exists()
        or same.filter(outcome=Delivery.Outcome.THROTTLED).exists()
    )


# --- 1. Digests -----------------------------------------------------------------------------


def digests_release() -> int:
    """Each group of throttled deliveries (channel, kind, account) whose window has closed becomes
    one message: the latest alert's, "… and N more". It opens the next window."""
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.ALERTS_THROTTLE_SECONDS)
    groups = (
        Delivery.objects.filter(outcome=Delivery.Outcome.THROTTLED)
        .values("channel", "alert__kind", "alert__account")
        .annotate(count=Count("id"), latest=Max("id"))
    )
    released = 0
    for group in groups:
        same = Delivery.objects.filter(
            channel=group["channel"], alert__kind=group["alert__kind"], alert__account=group["alert__account"]
        )
        if same.filter(outcome__in=OPEN, created_at__gt=window_start).exists():
            continue  # the window is still open
        with transaction.atomic():
            held = list(same.select_for_update().filter(outcome=Delivery.Outcome.THROTTLED).values_list("id", flat=True))
            if not held:
                continue
            latest = max(held)
            Delivery.objects.filter(pk__in=[pk for pk in held if pk != latest]).update(outcome=Delivery.Outcome.DIGESTED)
            Delivery.objects.filter(pk=latest).update(
                outcome=Delivery.Outcome.PENDING, digest_count=len(held) - 1, created_at=now, next_attempt_at=now
            )
        released += 1
    return released


# --- Escalation -----------------------------------------------------------------------------


def alerts_escalate(*, now=None) -> int:
    """A critical alert still triggered (nobody acknowledged, resolved or snoozed it)
    ALERTS_ESCALATE_SECONDS after it was last sent goes again to the channels it went to, as
    reminder 1, 2, …: once per period (the reminder number is part of the delivery's unique key,
    so a repeated pass cannot send one twice)."""
    now = now or timezone.now()
    last_told = now - timedelta(seconds=settings.ALERTS_ESCALATE_SECONDS)
    due = Q(reminded_at__isnull=True, created_at__lte=last_told) | Q(reminded_at__lte=last_told)
    candidates = Alert.objects.filter(due, priority__gte=Priority.CRITICAL, status=Alert.Status.TRIGGERED)
    escalated = 0
    for alert_id in candidates.order_by("id").values_list("id", flat=True)[:BATCH_SIZE]:
        with transaction.atomic():
            alert = Alert.objects.select_for_update(skip_locked=True).filter(due, pk=alert_id, status=Alert.Status.TRIGGERED)
            alert = alert.first()
            if alert is None:
                continue  # acknowledged meanwhile, or another tick is on it
            alert.reminders, alert.reminded_at = alert.reminders + 1, now
            alert.save(update_fields=["reminders", "reminded_at"])
            channels = Delivery.objects.filter(alert=alert, reminder=0).values_list("channel_id", flat=True)
            Delivery.objects.bulk_create(
                [
                    Delivery(alert=alert, channel_id=channel, reminder=alert.reminders, created_at=now, next_attempt_at=now)
                    for channel in channels
                ],
                ignore_conflicts=True,
            )
        escalated += 1
    return escalated


# --- 3. Sending -----------------------------------------------------------------------------


def deliveries_send_due(*, stop: threading.Event | None = None, budget_seconds: float | None = None) -> int:
    """Send the due deliveries, most urgent first, up to ALERTS_SEND_THREADS at once (a critical
    alert reaches all its channels together), recording each outcome as it comes. Claims only
    what it sends next, so a stop (or a crash) leaves at most one round in flight. Returns how
    many were sent."""
    deadline = time.monotonic() + (settings.ALERTS_TICK_BUDGET_SECONDS if budget_seconds is None else budget_seconds)
    sent = 0
    with ThreadPoolExecutor(max_workers=settings.ALERTS_SEND_THREADS, thread_name_prefix="alerts-send") as pool:
        while not (stop is not None and stop.is_set()) and time.monotonic() < deadline:
            claimed = _deliveries_claim(limit=settings.ALERTS_SEND_THREADS)
            if not claimed:
                break
            futures = {pool.submit(_send_safely, delivery.channel, message_of(delivery)): delivery for delivery in claimed}
            for future in as_completed(futures):
                result = future.result()
                delivery_finish(futures[future], result)
                sent += result.outcome == "sent"
    return sent


def _send_safely(channel: Channel, message: render.Message) -> SendResult:
    try:
        return send(channel, message)
    except Exception as error:
        logger.exception("alerts: sending to %s failed", channel)
        return SendResult("retry", f"error: {type(error).__name__}: {error}"[:500])


def _deliveries_claim(*, limit: int) -> list[Delivery]:
    """Mark the due deliveries "sending" (committed before anything leaves), most urgent first."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ALERTS_SENDING_STALE_SECONDS)
    due = Q(outcome=Delivery.Outcome.PENDING, next_attempt_at__lte=now) | Q(
        outcome=Delivery.Outcome.SENDING, at__lt=stale, attempt__lt=settings.ALERTS_RETRY_ATTEMPTS
    )
    with transaction.atomic():
        claimed = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alert__account", "channel")
            .filter(due, channel__active=True)
            .order_by("-alert__priority", "id")[:limit]
        )
        for delivery in claimed:
            delivery.outcome, delivery.attempt, delivery.at = Delivery.Outcome.SENDING, delivery.attempt + 1, now
        Delivery.objects.bulk_update(claimed, ["outcome", "attempt", "at"])
    return claimed


def delivery_finish(delivery: Delivery, result: SendResult) -> None:
    """Record an attempt's outcome: sent, failed, or due again after the retry delay (or the
    receiver's retry_after) while attempts remain."""
    now = timezone.now()
    outcome = result.outcome
    if outcome == "retry" and delivery.attempt >= settings.ALERTS_RETRY_ATTEMPTS:
        outcome = "failed"
    fields = {"response": result.response[:2000], "at": now}
    if outcome == "retry":
        wait = result.retry_after if result.retry_after is not None else settings.ALERTS_RETRY_SECONDS
        fields.update(outcome=Delivery.Outcome.PENDING, next_attempt_at=now + timedelta(seconds=wait))
    else:
        fields["outcome"] = Delivery.Outcome.SENT if outcome == "sent" else Delivery.Outcome.FAILED
        if outcome != "sent":
            logger.error("alerts: %s could not be delivered to %s: %s", delivery.alert, delivery.channel, result.response)
    Delivery.objects.filter(pk=delivery.pk, outcome=Delivery.Outcome.SENDING).update(**fields)


def message_of(delivery: Delivery) -> render.Message:
    alert = delivery.alert
    return render.Message(
        key=alert.dedup_key,
        kind=alert.kind,
        priority=alert.priority,
        title=alert.title,
        body=alert.body,
        account=alert.account.name if alert.account else "desk-wide",
        at=alert.created_at,
        digest_count=delivery.digest_count,
        reminder=delivery.reminder,
        link=f"{settings.ALERTS_DESK_URL.rstrip('/')}/risk/#alert-{alert.pk}" if settings.ALERTS_DESK_URL else "",
    )
