"""Persisted cursors over the outbox: a reader of events (the relay, the alert dispatcher)
saves the last id it handled after each batch, and starts from it after a restart.

A reader that crashes between handling a batch and saving its cursor handles that batch
again after the restart (at least once, never skipped): its consumers drop ids they saw."""

from django.utils import timezone

from apps.common.models import EventCursor


def cursor_position(*, name: str) -> int | None:
    """The last event id the reader `name` handled; None before its first save."""
    return EventCursor.objects.filter(name=name).values_list("last_event_id", flat=True).first()


def cursor_advance(*, name: str, last_event_id: int) -> None:
    """Save the reader's progress; it only moves forward (a late save of an older position,
    e.g. from a second reader started by mistake, does not move it back)."""
    moved = EventCursor.objects.filter(name=name, last_event_id__lt=last_event_id).update(
        last_event_id=last_event_id, updated_at=timezone.now()
    )
    if not moved:
        EventCursor.objects.get_or_create(name=name, defaults={"last_event_id": last_event_id})
