"""The relay: delivers outbox events (apps.common.models.Event) to Channels groups, in id order.

One pass is `relay_pass(layer, cursor) -> cursor`; two runtimes loop over it:
- embedded (RELAY_IN_PROCESS, in-memory layer): `embedded_relay_ensure_started()` starts one
  asyncio task inside the ASGI web process, lazily, on the first websocket connect;
- production: `manage.py relay`, one long-running process per deployment, over channels_redis.

Where it starts. The relay saves its cursor (apps.common.cursors, name "relay") after each
batch it delivered, and a relay restarted after a crash or a deploy resumes from there: events
recorded while it was down are delivered, in order, none skipped. A crash between a delivery
and its save delivers that batch again; consumers drop ids they already sent. Only the very
first relay of a desk, with no cursor saved yet, starts at the newest id (history is the pages'
business: a page resyncs itself from the database with the last event id it saw, see
apps/web/consumers.py), and saves it at once.

Gaps. On PostgreSQL an id is taken from the sequence when the row is inserted, not when the
transaction commits, so event 41 can become visible after event 42. The relay therefore only
moves past a missing id once it has been missing for GAP_WAIT_SECONDS (measured from the pass
that first saw a higher id): in that time a slow transaction commits and is delivered in
order. An id that never appears (a rolled-back transaction, sequence caching) costs that wait
once. An event that commits later than the wait is not pushed live; pages get it when they
reload their history. A first relay started on an empty outbox has no id to count from and
begins at the first event it sees (ids below it that commit later are not pushed). On SQLite
writers are serialised and AUTOINCREMENT ids never go back, so gaps are rare there (only ids
of deleted events).
"""

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings

from apps.common import metrics
from apps.common.cursors import cursor_advance, cursor_position
from apps.common.models import Event

logger = logging.getLogger(__name__)

GAP_WAIT_SECONDS = 2.0
BATCH_SIZE = 500
POLL_SECONDS = 0.2
GROUP_NAME_MAX = 99  # channels refuses names of 100 characters or more
MESSAGE_TYPE = "event.message"  # -> EventsConsumer.event_message
CURSOR_NAME = "relay"


def topic_group(topic: str) -> str:
    """The Channels group of a topic: characters channels refuses become "_"."""
    name = re.sub(r"[^a-zA-Z0-9\-_.]", "_", topic)
    return name[:GROUP_NAME_MAX] or "_"


@dataclass(frozen=True)
class RelayCursor:
    """Where the relay stands: the last id delivered (or skipped), plus, while ids are missing,
    when each higher id was first seen (so we know how long each gap has been open)."""

    last_id: int | None  # None: the outbox was empty at start, begin at the first event seen
    # (highest id visible, monotonic time of the pass that first saw it), ascending
    seen: tuple[tuple[int, float], ...] = field(default=())

    def gap_first_seen(self, missing_id: int) -> float | None:
        """When we first saw an id above `missing_id`, i.e. since when it has been a gap."""
        return next((at for high, at in self.seen if high > missing_id), None)


async def relay_pass(layer, cursor: RelayCursor, *, now: float | None = None) -> RelayCursor:
    """Deliver the events after the cursor that are ready; return the new cursor."""
    now = time.monotonic() if now is None else now
    events = await _events_after(cursor.last_id or 0)
    if not events:
        return cursor
    cursor = _note_highest(cursor, events[-1].id, now)
    last_id = cursor.last_id if cursor.last_id is not None else events[0].id - 1
    for event in events:
        if event.id != last_id + 1:
            opened_at = cursor.gap_first_seen(last_id + 1)
            if opened_at is None or now - opened_at < GAP_WAIT_SECONDS:
                break  # a transaction holding the missing id may still commit: wait for it
            logger.warning("relay skipped missing event ids %s..%s", last_id + 1, event.id - 1)
        await layer.group_send(topic_group(event.topic), {"type": MESSAGE_TYPE, "event": event.as_message()})
        _latency_observe(event)
        last_id = event.id
    return RelayCursor(last_id=last_id, seen=tuple((high, at) for high, at in cursor.seen if high > last_id))


def _latency_observe(event: Event) -> None:
    """From the event's write to its delivery, per topic family (orders, candles, ...)."""
    if event.created_at is not None:
        metrics.event_bus_latency_seconds.labels(event.topic.partition(".")[0]).observe(
            time.time() - event.created_at.timestamp()
        )


def _note_highest(cursor: RelayCursor, highest: int, now: float) -> RelayCursor:
    if cursor.seen and cursor.seen[-1][0] >= highest:
        return cursor
    return RelayCursor(last_id=cursor.last_id, seen=cursor.seen + ((highest, now),))


@database_sync_to_async
def _events_after(last_id: int) -> list[Event]:
    return list(Event.objects.filter(id__gt=last_id).order_by("id")[:BATCH_SIZE])


@database_sync_to_async
def relay_start_cursor(name: str = CURSOR_NAME) -> RelayCursor:
    """Resume after the last event delivered. The first relay ever starts at the newest event
    and saves it; on an empty outbox it begins at the first event seen."""
    from apps.web.selectors import event_last_id

    saved = cursor_position(name=name)
    if saved is not None:
        return RelayCursor(last_id=saved)
    newest = event_last_id()
    if newest:
        cursor_advance(name=name, last_event_id=newest)
    return RelayCursor(last_id=newest or None)


relay_cursor_save = database_sync_to_async(cursor_advance)


async def relay_run(
    layer, *, poll_seconds: float = POLL_SECONDS, stop: asyncio.Event | None = None, name: str = CURSOR_NAME
) -> None:
    """Loop over relay_pass until `stop` is set (or the task is cancelled), saving the cursor
    after each batch. A failing pass (database or Redis unavailable) is logged and retried
    with backoff; the cursor is kept."""
    stop = stop or asyncio.Event()
    cursor = await _start_cursor_with_retry(stop, name)
    saved_id = cursor.last_id
    failures = 0
    while not stop.is_set():
        try:
            cursor = await relay_pass(layer, cursor)
            if cursor.last_id != saved_id:
                await relay_cursor_save(name=name, last_event_id=cursor.last_id)
                saved_id = cursor.last_id
            failures = 0
        except Exception:
            failures += 1
            logger.exception("relay pass failed (%s in a row); retrying", failures)
        delay = poll_seconds if failures == 0 else min(5.0, poll_seconds * 2**failures)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass


async def _start_cursor_with_retry(stop: asyncio.Event, name: str) -> RelayCursor:
    delay = 0.5
    while True:
        try:
            return await relay_start_cursor(name)
        except Exception:
            logger.exception("relay cannot read the outbox yet; retrying in %.1fs", delay)
            if stop.is_set():
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


# --- Embedded runtime: one relay task per web process ---------------------------------

_embedded: dict = {"task": None}


def embedded_relay_ensure_started() -> None:
    """Start the in-process relay once per process (per event loop); a no-op when a separate
    `manage.py relay` is deployed (RELAY_IN_PROCESS=False)."""
    if not settings.RELAY_IN_PROCESS:
        return
    task = _embedded["task"]
    if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
        return
    from channels.layers import get_channel_layer

    _embedded["task"] = asyncio.get_running_loop().create_task(relay_run(get_channel_layer()), name="tradedesk-relay")
    logger.info("embedded relay started in the web process")
