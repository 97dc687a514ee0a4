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

Wake-up. On PostgreSQL every transaction that records events sends a NOTIFY on commit
(apps.common.events.OUTBOX_CHANNEL); the relay LISTENs on a connection of its own
(`OutboxWaker`) and runs its next pass as soon as one arrives, so an event reaches the pages
within milliseconds of its commit instead of up to a poll later. The notification only wakes
the relay: what is delivered, and in which order, is still read from the outbox by id, so a
lost notification (the listening connection dropped and is being reopened) costs at most one
poll interval and never an event. Elsewhere (SQLite) the relay polls.
"""

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from apps.common import metrics
from apps.common.cursors import cursor_advance, cursor_position
from apps.common.events import OUTBOX_CHANNEL
from apps.common.models import Event

logger = logging.getLogger(__name__)

GAP_WAIT_SECONDS = 2.0
BATCH_SIZE = 500
POLL_SECONDS = 0.2
LISTEN_POLL_SECONDS = 1.0  # with LISTEN: a pass at least this often (gaps age, a lost notification)
LISTEN_RETRY_SECONDS = 5.0
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


async def relay_pass(layer, cursor: RelayCursor, *, now: float | None = None, read=None) -> RelayCursor:
    """Deliver the events after the cursor that are ready; return the new cursor. `read` reads
    the outbox after an id (the ORM's by default)."""
    now = time.monotonic() if now is None else now
    events = await (read or _events_after)(cursor.last_id or 0)
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


def _off_the_page_thread(function):
    """The relay's reads and writes run on a pool thread of their own, not on the one thread
    Django's sync views share in a process (thread_sensitive): inside the web process (the
    embedded runtime) a burst of page renders would otherwise hold up every delivery."""
    return database_sync_to_async(function, thread_sensitive=False)


@_off_the_page_thread
def _events_after(last_id: int) -> list[Event]:
    return list(Event.objects.filter(id__gt=last_id).order_by("id")[:BATCH_SIZE])


@_off_the_page_thread
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


relay_cursor_save = _off_the_page_thread(cursor_advance)


async def relay_run(
    layer,
    *,
    poll_seconds: float = POLL_SECONDS,
    stop: asyncio.Event | None = None,
    name: str = CURSOR_NAME,
    listen: bool = True,
) -> None:
    """Loop over relay_pass until `stop` is set (or the task is cancelled), saving the cursor
    after each batch. Between passes it waits for an outbox commit (LISTEN, on PostgreSQL) or
    the poll interval. A failing pass (database or Redis unavailable) is logged and retried
    with backoff; the cursor is kept."""
    stop = stop or asyncio.Event()
    cursor = await _start_cursor_with_retry(stop, name)
    saved_id = cursor.last_id
    failures = 0
    waker = OutboxWaker(listen=listen)

    async def read(last_id: int) -> list[Event]:
        found = await waker.events_after(last_id)
        return found if found is not None else await _events_after(last_id)

    try:
        while not stop.is_set():
            try:
                cursor = await relay_pass(layer, cursor, read=read)
                if cursor.last_id != saved_id:
                    await relay_cursor_save(name=name, last_event_id=cursor.last_id)
                    saved_id = cursor.last_id
                failures = 0
            except Exception:
                failures += 1
                logger.exception("relay pass failed (%s in a row); retrying", failures)
            if failures:
                await _stop_wait(stop, min(5.0, poll_seconds * 2**failures))
            else:
                await waker.wait(stop, _next_pass_in(cursor, poll_seconds, listening=waker.listening))
    finally:
        await waker.close()


def _next_pass_in(cursor: RelayCursor, poll_seconds: float, *, listening: bool) -> float:
    """Listening, a commit wakes the relay and the poll is a fallback; an open gap is passed
    over after GAP_WAIT_SECONDS even if nothing else commits (its transaction rolled back)."""
    wait = max(poll_seconds, LISTEN_POLL_SECONDS) if listening else poll_seconds
    if cursor.seen:
        wait = min(wait, max(0.05, cursor.seen[0][1] + GAP_WAIT_SECONDS - time.monotonic() + 0.01))
    return wait


async def _stop_wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


class OutboxWaker:
    """Returns from `wait` when a transaction that recorded events has committed (a NOTIFY on
    OUTBOX_CHANNEL, PostgreSQL), or after the poll interval. Without PostgreSQL, or while its
    connection is down (retried every LISTEN_RETRY_SECONDS), it sleeps the poll interval."""

    def __init__(self, *, listen: bool = True):
        self.listen = listen and connections["default"].vendor == "postgresql"
        self._connection = None
        self._retry_at = 0.0

    @property
    def listening(self) -> bool:
        return self._connection is not None

    async def wait(self, stop: asyncio.Event, seconds: float) -> None:
        connection = await self._connected()
        if connection is None:
            await _stop_wait(stop, seconds)
            return
        deadline = time.monotonic() + seconds
        try:
            # In slices of a second at most: `stop` is looked at between them.
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if [_ async for _ in connection.notifies(timeout=min(left, 1.0), stop_after=1)]:
                    break
            async for _ in connection.notifies(timeout=0):  # fold the ones already queued into this pass
                pass
        except Exception:
            logger.warning("relay: the outbox listener dropped; polling until it reconnects", exc_info=True)
            await self.close()

    async def events_after(self, last_id: int) -> list[Event] | None:
        """The outbox after `last_id`, read on the listening connection: woken, the relay reads
        at once on the same socket instead of hopping to a thread and its own connection. None
        when not listening (the caller reads through the ORM)."""
        if self._connection is None:
            return None
        table = Event._meta.db_table
        try:
            cursor = await self._connection.execute(
                f"SELECT id, topic, kind, payload, created_at FROM {table} WHERE id > %s ORDER BY id LIMIT %s",
                (last_id, BATCH_SIZE),
            )
            rows = await cursor.fetchall()
        except Exception:
            logger.warning("relay: reading on the outbox listener failed; back to the ORM", exc_info=True)
            await self.close()
            return None
        # created_at too: the write-to-delivery metric (_latency_observe) skips an event without it
        return [Event(id=row[0], topic=row[1], kind=row[2], payload=row[3], created_at=row[4]) for row in rows]

    async def _connected(self):
        if not self.listen or self._connection is not None or time.monotonic() < self._retry_at:
            return self._connection
        import psycopg

        try:
            params = connections["default"].get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self._connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
            await self._connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
        except Exception:
            logger.warning("relay: cannot LISTEN for outbox commits; polling", exc_info=True)
            self._retry_at = time.monotonic() + LISTEN_RETRY_SECONDS
            await self.close()
        return self._connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                logger.debug("relay: closing the outbox listener failed", exc_info=True)


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

    # Polls only: the embedded runtime is SQLite's (no NOTIFY), and a listening connection would
    # outlive the web process's loop when it stops without a shutdown (as a test's server does).
    _embedded["task"] = asyncio.get_running_loop().create_task(
        relay_run(get_channel_layer(), listen=False), name="tradedesk-relay"
    )
    logger.info("embedded relay started in the web process")
