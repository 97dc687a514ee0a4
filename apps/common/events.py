"""The outbox: record events inside the caller's transaction."""

from collections.abc import Iterable

from django.db import transaction

from apps.common.models import Event


def event_record(*, topic: str, kind: str, payload: dict) -> Event:
    assert transaction.get_connection().in_atomic_block, "record events inside the change's transaction"
    return Event.objects.create(topic=topic, kind=kind, payload=payload)


def events_record(*, topic: str, kind: str, payloads: Iterable[dict]) -> int:
    assert transaction.get_connection().in_atomic_block, "record events inside the change's transaction"
    rows = [Event(topic=topic, kind=kind, payload=payload) for payload in payloads]
    Event.objects.bulk_create(rows)
    return len(rows)


def events_since(*, last_id: int, topics: Iterable[str] | None = None, limit: int = 500) -> list[Event]:
    queryset = Event.objects.filter(id__gt=last_id)
    if topics is not None:
        queryset = queryset.filter(topic__in=list(topics))
    return list(queryset.order_by("id")[:limit])
