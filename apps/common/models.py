from django.db import models


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


class EventCursor(models.Model):
    """How far a reader of the outbox (the relay, later the alert dispatcher) has got, by
    name, so that a reader restarted after a crash resumes where it stopped."""

    name = models.CharField(max_length=60, unique=True)
    last_event_id = models.BigIntegerField(help_text="The last event handled (delivered, or skipped as never committed)")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} at #{self.last_event_id}"
