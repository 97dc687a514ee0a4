from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Event(models.Model):
    """A row of the transactional outbox: written in the same transaction as the change it
    describes, delivered to live pages by the relay. Ids only grow; clients resync by id."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    topic = models.CharField(max_length=120, db_index=True, help_text="Channels group, e.g. candles.BTC-USDT.1m")
    kind = models.CharField(max_length=60, help_text="What happened, past tense: candle.closed, order.filled")
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["topic", "id"])]

    def __str__(self):
        return f"#{self.id} {self.kind} on {self.topic}"

    def as_message(self) -> dict:
        return {"id": self.id, "kind": self.kind, "topic": self.topic, "payload": self.payload}


class AuditEntry(models.Model):
    """Who did what to which object, when, through which door, and what it looked like before
    and after. Written by the service (or admin) that made the change, in its transaction; a
    refused request is recorded too, with the reason. Never edited: the admin only shows it."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        PAGE = "page", "Page"
        API = "api", "API"
        COMMAND = "command", "Command"
        SYSTEM = "system", "System (beat, workers)"

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    who = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
        help_text="Empty: the system",
    )
    who_name = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted")
    via = models.CharField(max_length=8, choices=Via.choices)
    action = models.CharField(max_length=60, help_text="e.g. order.cancel, position.close, admin.change")
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.DONE)
    reason = models.TextField(blank=True, help_text="The person's reason, or why it was refused")
    object_type = models.CharField(max_length=100, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id", "at"])]

    def __str__(self):
        who = self.who_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_repr} ({self.outcome})"


class EventCursor(models.Model):
    """How far a reader of the outbox (the relay, later the alert dispatcher) has got, by
    name, so that a reader restarted after a crash resumes where it stopped."""

    name = models.CharField(max_length=60, unique=True)
    last_event_id = models.BigIntegerField(help_text="The last event handled (delivered, or skipped as never committed)")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} at #{self.last_event_id}"


class Heartbeat(models.Model):
    """The last sign of life of a desk process (beat, the worker), read by /health/deep and by
    `manage.py restore`, which refuses to overwrite the database of a desk that runs."""

    name = models.CharField(max_length=80, unique=True, help_text="beat, or worker@host")
    beat_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
