"""/ws/events/: live outbox events for a logged-in page.

Protocol (JSON):
  page -> {"subscribe": ["candles.BTC-USDT.1m", ...], "since": <last event id seen, or null>}
  desk -> {"type": "subscribed", "topics": [...], "resynced": n, "resync_truncated": bool, "last_id": id}
          then each event as {"id", "kind", "topic", "payload"}, ids strictly increasing.
  desk -> {"type": "error", "message": "..."} on a bad request (the socket stays open), and one
          per refused topic: of an account the user is not a member of, or of no known shape
          (apps/common/events.py). The other topics are subscribed; "topics" lists them.
  page -> {"type": "ping"}   desk -> {"type": "pong"}: the page's heartbeat. A socket can die
          without a close frame (a laptop sleeps, a proxy drops it); the page pings every few
          seconds and treats a desk silent for longer than its limit as disconnected.
Anonymous sockets are accepted then closed with code 4401 so the page can tell "log in again"
from a network failure (closing before accept would reach the browser as a bare 1006).
A socket opened with a credential that can end (an API token: `scope["credential"]`, put there
by apps.api.websocket) is closed with 4401 and the reason ("API token revoked") once it ends:
before each event it sends and each message it receives, the consumer asks again, at most every
CREDENTIAL_RECHECK_SECONDS (one query), and at once when the expiry it knows has passed.
"""

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.web import selectors
from apps.web.relay import MESSAGE_TYPE, embedded_relay_ensure_started, topic_group

CLOSE_UNAUTHENTICATED = 4401
# A page asks for its accounts' six topics each and the 1m candles of every market it shows a
# position in: 20 refused the whole subscription (no live page at all) for a trader with four
# accounts or positions in fourteen markets. The bound keeps one socket's group joins finite.
MAX_TOPICS = 400
MAX_TOPIC_LENGTH = 120
RESYNC_LIMIT = 5000
CREDENTIAL_RECHECK_SECONDS = 5.0
PING = {"type": "ping"}
PONG = {"type": "pong"}


class SubscribeError(ValueError):
    pass


def subscription_parse(content) -> tuple[list[str], int | None]:
    """Validate {"subscribe": [...], "since": id|null}; raise SubscribeError saying what is wrong."""
    if not isinstance(content, dict) or "subscribe" not in content:
        raise SubscribeError('Send {"subscribe": ["topic", ...], "since": <last event id or null>}.')
    topics = content["subscribe"]
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) and t for t in topics):
        raise SubscribeError('"subscribe" must be a non-empty list of topic names.')
    if len(topics) > MAX_TOPICS or any(len(t) > MAX_TOPIC_LENGTH for t in topics):
        raise SubscribeError(f"At most {MAX_TOPICS} topics of at most {MAX_TOPIC_LENGTH} characters.")
    since = content.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 0):
        raise SubscribeError('"since" must be a non-negative event id or null.')
    return list(dict.fromkeys(topics)), since


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.groups_joined: set[str] = set()
        self.topics: set[str] = set()
        self.last_sent_id = 0
        self.ended: str | None = None
        self.credential_checked_at = time.monotonic()
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        embedded_relay_ensure_started()

    async def receive_json(self, content, **kwargs):
        if await self._credential_ended():
            return
        if content == PING:
            await self.send_json(PONG)
            return
        try:
            topics, since = subscription_parse(content)
        except SubscribeError as exc:
            await self.send_json({"type": "error", "message": str(exc)})
            return
        topics = await self._topics_allowed(topics)
        # Join first, then read the database: an event relayed meanwhile waits in our queue
        # (messages are handled one at a time) and the id check drops it if resent.
        await self._groups_replace(topics)
        missed = await self._missed(topics, since)
        for event in missed.events:
            await self._send_event(event.as_message())
        if self.ended:
            return
        self.last_sent_id = max(self.last_sent_id, missed.last_id)
        await self.send_json(
            {
                "type": "subscribed",
                "topics": topics,
                "resynced": len(missed.events),
                "resync_truncated": missed.truncated,
                "last_id": self.last_sent_id,
            }
        )

    async def _topics_allowed(self, topics: list[str]) -> list[str]:
        """The topics this user may see; a refusal message for each of the others."""
        decision = await database_sync_to_async(selectors.topics_authorize)(user=self.scope["user"], topics=topics)
        for refusal in decision.refusals:
            await self.send_json({"type": "error", "message": refusal})
        return decision.allowed

    async def _missed(self, topics: list[str], since: int | None) -> selectors.MissedEvents:
        if since is None:  # a fresh page: it just loaded its history, live events from now on
            last_id = await database_sync_to_async(selectors.event_last_id)()
            return selectors.MissedEvents(events=[], truncated=False, last_id=last_id)
        return await database_sync_to_async(selectors.events_missed)(
            user=self.scope["user"], topics=topics, since=since, limit=RESYNC_LIMIT
        )

    async def _groups_replace(self, topics: list[str]) -> None:
        wanted = {topic_group(topic) for topic in topics}
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in wanted - self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = wanted
        self.topics = set(topics)

    async def dispatch(self, message):
        """A live event goes straight to its handler. Channels' own dispatch first closes stale
        database connections on the process's one sync thread, the thread every page render
        of this web process runs on: each event waited for a hop there, and behind any page
        being rendered (a page refreshes itself on events, so renders come in bursts). The
        event handler reads the database only through database_sync_to_async (the credential
        recheck), which closes stale connections itself; other messages keep the default."""
        if message.get("type") == MESSAGE_TYPE:
            await self.event_message(message)
            return
        await super().dispatch(message)

    async def event_message(self, message):
        """A live event from the relay (two topics may share a group name: filter by topic)."""
        if message["event"]["topic"] not in self.topics:
            return
        await self._send_event(message["event"])

    async def _send_event(self, event: dict) -> None:
        if event["id"] <= self.last_sent_id:
            return  # already sent (resync and live overlap, or a relay restart)
        if await self._credential_ended():
            return
        self.last_sent_id = event["id"]
        await self.send_json(event)

    async def _credential_ended(self) -> bool:
        """True (and the socket closed) once the credential it was opened with has ended."""
        if self.ended:
            return True
        credential = self.scope.get("credential")
        if credential is None:
            return False
        now = time.monotonic()
        if now - self.credential_checked_at < CREDENTIAL_RECHECK_SECONDS and not credential.may_have_ended():
            return False
        self.credential_checked_at = now
        self.ended = await database_sync_to_async(credential.ended)()
        if not self.ended:
            return False
        await self._groups_replace([])
        await self.close(code=CLOSE_UNAUTHENTICATED, reason=self.ended)
        return True

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
