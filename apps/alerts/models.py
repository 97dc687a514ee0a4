"""Alerts: where they go (Channel), which events become them beyond the built-in kinds
(AlertRule), what happened (Alert, one per dedup key) and each attempt to tell someone (Delivery,
one per alert and channel)."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.common.fields import EncryptedTextField


class Priority(models.IntegerChoices):
    LOW = 10, "low"
    NORMAL = 20, "normal"
    HIGH = 30, "high"
    CRITICAL = 40, "critical"


class Channel(models.Model):
    """One place a message goes. Desk-wide (no owner) or a person's own; either may be narrowed to
    one account. Secrets (bot token, webhook URL, SMTP password) are encrypted at rest."""

    class Kind(models.TextChoices):
        TELEGRAM = "telegram", "Telegram"
        DISCORD = "discord", "Discord"
        SLACK = "slack", "Slack"
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (JSON)"

    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_channels",
        help_text="Empty: desk-wide. Else only alerts of the owner's accounts reach it",
    )
    account = models.ForeignKey(
        "exchanges.ExchangeAccount",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_channels",
        help_text="Empty: every account (and desk-wide alerts)",
    )
    min_priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.NORMAL, help_text="Built-in alerts below this priority are not sent here"
    )
    url = EncryptedTextField(
        blank=True,
        help_text=(
            "Discord, Slack or generic webhook: its URL. Telegram: the Bot API base URL (blank: https://api.telegram.org)"
        ),
    )
    secret = EncryptedTextField(
        blank=True,
        help_text=("Telegram: the bot token. Email: the SMTP password. Webhook: the HMAC key that signs the body (optional)"),
    )
    address = models.CharField(
        max_length=300, blank=True, help_text="Telegram: the chat id. Email: the recipients, comma separated"
    )
    smtp_host = models.CharField(max_length=200, blank=True)
    smtp_port = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: 587 with STARTTLS, 25 without")
    smtp_user = models.CharField(max_length=200, blank=True)
    smtp_tls = models.BooleanField(default=True, help_text="STARTTLS; off only for a trusted local relay")
    email_from = models.EmailField(blank=True)
    quiet_from = models.TimeField(
        null=True, blank=True, help_text="Quiet hours start (UTC): alerts below critical wait until they end"
    )
    quiet_until = models.TimeField(null=True, blank=True, help_text="Quiet hours end (UTC); may be past midnight (22:00–07:00)")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def quiet_end(self, now: datetime) -> datetime | None:
        """When the quiet hours around `now` end (UTC), or None when it is not quiet now."""
        if self.quiet_from is None or self.quiet_until is None or self.quiet_from == self.quiet_until:
            return None
        now = now.astimezone(UTC)
        moment = now.time()
        overnight = self.quiet_from > self.quiet_until
        quiet = (
            (moment >= self.quiet_from or moment < self.quiet_until)
            if overnight
            else self.quiet_from <= moment < self.quiet_until
        )
        if not quiet:
            return None
        end = datetime.combine(now.date(), self.quiet_until, tzinfo=UTC)
        return end if end > now else end + timedelta(days=1)


class AlertRule(models.Model):
    """Which events alert whom, or a condition the desk watches. An event rule names event kinds
    (any kind of the catalogue, also those that are not built-in alerts) and a least priority. A
    condition rule (price crosses a level, a position's unrealized P&L, a strategy's drawdown,
    the day's loss, no fill while strategies run) is evaluated on the beat and alerts when the
    condition becomes true, once, until it is false again. Both apply to the accounts (none:
    all), markets and strategies named, and go to the channels named (none: every channel that
    may see the alert)."""

    class Condition(models.TextChoices):
        EVENTS = "", "Events of the kinds listed"
        PRICE_ABOVE = "price_above", "Price crosses above (threshold: the price)"
        PRICE_BELOW = "price_below", "Price crosses below (threshold: the price)"
        POSITION_PNL_BELOW = "position_pnl_below", "Position unrealized P&L below (threshold: %, e.g. -5)"
        POSITION_PNL_ABOVE = "position_pnl_above", "Position unrealized P&L above (threshold: %)"
        STRATEGY_DRAWDOWN_ABOVE = "strategy_drawdown_above", "Strategy drawdown above (threshold: %)"
        DAILY_LOSS_ABOVE = "daily_loss_above", "Daily loss above (threshold: % of the day's starting equity)"
        NO_FILL = "no_fill", "No fill while strategies run (threshold: minutes)"

    name = models.CharField(max_length=80)
    condition = models.CharField(max_length=30, choices=Condition.choices, default=Condition.EVENTS, blank=True)
    threshold = models.DecimalField(
        max_digits=24, decimal_places=8, null=True, blank=True, help_text="The condition's level (see the condition)"
    )
    markets = models.ManyToManyField("markets.Market", blank=True, related_name="alert_rules", help_text="None: all")
    strategies = models.ManyToManyField("strategies.Strategy", blank=True, related_name="alert_rules", help_text="None: all")
    event_kinds = models.JSONField(
        default=list, blank=True, help_text='Event kinds, e.g. ["order.filled"]; empty: the built-in alert kinds'
    )
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text="The priority of alerts this rule raises from non-built-in kinds",
    )
    min_priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.LOW, help_text="Alerts below this priority are left out"
    )
    accounts = models.ManyToManyField("exchanges.ExchangeAccount", blank=True, related_name="alert_rules")
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    account = models.ForeignKey(
        "exchanges.ExchangeAccount",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="owned_alert_rules",
        help_text="Whose rule this is (empty: the desk's, changed by superusers only)",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class RuleState(models.Model):
    """What a condition rule last found for one subject (a market, a position, a strategy, an
    account): a condition alerts when it becomes true (a new episode), not while it stays so."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    subject = models.CharField(max_length=60, help_text="market:3, position:12, strategy:4, account:1")
    breached = models.BooleanField(default=False)
    episode = models.PositiveIntegerField(default=0, help_text="How many times the condition became true")
    value = models.CharField(max_length=80, blank=True, help_text="The figure last measured")
    watched_since = models.DateTimeField(default=timezone.now)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "subject"], name="alerts_rule_state_once")]

    def __str__(self):
        return f"{self.rule} {self.subject}: {'breached' if self.breached else 'ok'} ({self.value})"


class Alert(models.Model):
    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        SNOOZED = "snoozed", "Snoozed"

    dedup_key = models.CharField(
        max_length=200, unique=True, help_text="The same key never raises a second alert (a re-read event, a repeated finding)"
    )
    kind = models.CharField(max_length=60, help_text="The event kind, or the alert kind for rules (kill_switch)")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    event = models.ForeignKey("common.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.TRIGGERED)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(
        default=0, help_text="Times a critical alert nobody acknowledged was sent again (escalation)"
    )
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When it was last sent again")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("acknowledge_alert", "Can acknowledge, resolve and snooze alerts")]
        indexes = [models.Index(fields=["kind", "account", "created_at"])]

    def __str__(self):
        return f"[{self.get_priority_display()}] {self.title}"


class Delivery(models.Model):
    """One alert to one channel: its attempts and final outcome. Unique per (alert, channel,
    reminder), so a re-read event never sends twice. A throttled delivery is folded into the next digest."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending (outcome unknown if it stays so)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        THROTTLED = "throttled", "Throttled (waits for the digest)"
        DIGESTED = "digested", "In a digest"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Attempts made so far")
    next_attempt_at = models.DateTimeField(default=timezone.now)
    digest_count = models.PositiveIntegerField(default=0, help_text="A digest: how many throttled alerts it stands for")
    reminder = models.PositiveSmallIntegerField(
        default=0, help_text="0: the alert itself; 1, 2, …: the escalation reminders of an unacknowledged critical alert"
    )
    response = models.TextField(blank=True, help_text="The receiver's last answer, or the error")
    at = models.DateTimeField(default=timezone.now, help_text="When the last attempt was made (or the row created)")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["alert", "channel", "reminder"], name="alerts_delivery_once_per_channel")]
        indexes = [models.Index(fields=["channel", "outcome", "created_at"])]

    def __str__(self):
        return f"{self.alert} → {self.channel}: {self.outcome}"
