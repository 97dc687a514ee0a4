"""The dead man's switch: every minute the desk tells an outside service (healthchecks.io, Uptime
Kuma, cronitor… any URL that expects a ping) that it is alive, so that service alerts when the
pings stop — the one failure the desk cannot report itself (host down, beat or the alerts worker
dead, database gone).

The ping is a POST to ALERTS_HEARTBEAT_URL with a small JSON body (healthchecks shows it as the
ping's log line). When the desk runs but its alert
pipeline is stuck (events older than ALERTS_HEARTBEAT_STUCK_SECONDS not yet read), it pings
`<url>/fail` instead, healthchecks' signal for "running but failing": silence would only say
that later. A ping that does not get through is logged and forgotten: the next minute's counts.
"""

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.utils import timezone

from apps.alerts.services import CURSOR_NAME
from apps.common.models import Event, EventCursor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ping:
    url: str
    ok: bool  # the desk's own state: False pinged /fail
    answered: int | None  # the receiver's HTTP status, None: not reached
    body: str


def heartbeat_ping() -> Ping | None:
    """One ping; None when no URL is configured."""
    base = settings.ALERTS_HEARTBEAT_URL.strip()
    if not base:
        return None
    behind = alerts_backlog()
    ok = behind == 0
    url = base if ok else base.rstrip("/") + "/fail"
    body = "tradedesk alive" if ok else f"tradedesk alive but alerts are stuck: {behind} events waiting"
    try:
        reply = requests.post(
            url,
            data=json.dumps({"ok": ok, "detail": body}).encode(),
            headers={"User-Agent": "tradedesk-heartbeat", "Content-Type": "application/json"},
            timeout=settings.ALERTS_TIMEOUT_SECONDS,
        )
        answered = reply.status_code
    except requests.RequestException as error:
        logger.warning("heartbeat: %s not reachable: %s", _safe(url), type(error).__name__)
        answered = None
    return Ping(url=url, ok=ok, answered=answered, body=body)


def alerts_backlog() -> int:
    """Events the alert dispatcher should have read by now (older than the stuck threshold)."""
    cursor = EventCursor.objects.filter(name=CURSOR_NAME).first()
    if cursor is None:
        return 0  # no dispatcher has run yet: nothing to measure against
    old = timezone.now() - timedelta(seconds=settings.ALERTS_HEARTBEAT_STUCK_SECONDS)
    return Event.objects.filter(id__gt=cursor.last_event_id, created_at__lt=old).count()


def _safe(url: str) -> str:
    """healthchecks' ping URLs hold a secret uuid: logs keep the host only."""
    return url.split("/")[2] if "//" in url else "(the heartbeat URL)"
