"""The alert pipeline's task, on its own `alerts` queue (its worker never holds up an order).

A beat entry every ALERTS_DISPATCH_EVERY_SECONDS rather than a long-running command: the desk
already supervises beat and the workers (rundesk), so there is no new process to keep alive; each
tick is short and bounded, and all its state is in the database (cursor, alerts, deliveries), so
a worker killed mid-tick loses nothing (see apps.alerts.services). A tick that waits in the queue
longer than its period expires: the next one does the same work.
"""

import time

from celery import shared_task
from django.conf import settings

from apps.alerts.heartbeat import heartbeat_ping
from apps.alerts.services import alerts_tick, daily_summaries_send


@shared_task(expires=max(settings.ALERTS_DISPATCH_EVERY_SECONDS * 2, 5), ignore_result=True)
def alerts_dispatch() -> dict:
    """Ticks for most of the beat period, ALERTS_POLL_SECONDS apart: an event waits a fraction
    of a second for its alert, not up to a whole period (the next beat entry takes over)."""
    until = time.monotonic() + settings.ALERTS_DISPATCH_EVERY_SECONDS * 0.9
    total = {"events": 0, "alerts": 0, "sent": 0, "digests": 0}
    while True:
        report = alerts_tick()
        for name in total:
            total[name] += getattr(report, name)
        if time.monotonic() + settings.ALERTS_POLL_SECONDS >= until:
            return total
        time.sleep(settings.ALERTS_POLL_SECONDS)


@shared_task(expires=50, ignore_result=True)
def alerts_heartbeat() -> dict | None:
    """The dead man's switch (apps.alerts.heartbeat), every minute."""
    ping = heartbeat_ping()
    return None if ping is None else {"ok": ping.ok, "answered": ping.answered}


@shared_task(ignore_result=True)
def alerts_daily_summary() -> int:
    """The daily summary per account (apps.alerts.summary); delivered by the next dispatch tick."""
    return daily_summaries_send()
