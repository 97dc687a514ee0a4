"""The alert pipeline's task, on its own `alerts` queue (its worker never holds up an order).

A beat entry every ALERTS_DISPATCH_EVERY_SECONDS rather than a long-running command: the desk
already supervises beat and the workers (rundesk), so there is no new process to keep alive; each
tick is short and bounded, and all its state is in the database (cursor, alerts, deliveries), so
a worker killed mid-tick loses nothing (see apps.alerts.services). A tick that waits in the queue
longer than its period expires: the next one does the same work.
"""

from celery import shared_task
from django.conf import settings

from apps.alerts.heartbeat import heartbeat_ping
from apps.alerts.services import alerts_tick, daily_summaries_send


@shared_task(expires=max(settings.ALERTS_DISPATCH_EVERY_SECONDS * 2, 5), ignore_result=True)
def alerts_dispatch() -> dict:
    report = alerts_tick()
    return {"events": report.events, "alerts": report.alerts, "sent": report.sent, "digests": report.digests}


@shared_task(expires=50, ignore_result=True)
def alerts_heartbeat() -> dict | None:
    """The dead man's switch (apps.alerts.heartbeat), every minute."""
    ping = heartbeat_ping()
    return None if ping is None else {"ok": ping.ok, "answered": ping.answered}


@shared_task(ignore_result=True)
def alerts_daily_summary() -> int:
    """The daily summary per account (apps.alerts.summary); delivered by the next dispatch tick."""
    return daily_summaries_send()
