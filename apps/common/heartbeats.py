"""Heartbeats: beat writes one every HEARTBEAT_SECONDS from a thread of its own; the worker
writes one each time it runs the heartbeat task that beat schedules (so a fresh worker heartbeat
also says the worker takes tasks off the queue)."""

import os
import socket
import threading
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from apps.common.logging import get_logger
from apps.common.models import Heartbeat

log = get_logger(__name__)
HEARTBEAT_SECONDS = 10
STALE_AFTER = timedelta(seconds=60)  # six missed beats


def heartbeat_record(*, name: str) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "detail": f"{socket.gethostname()} pid {os.getpid()}"}
    )


def heartbeats_fresh(*, now=None) -> list[Heartbeat]:
    """The processes that gave a sign of life within STALE_AFTER."""
    now = now or timezone.now()
    return list(Heartbeat.objects.filter(beat_at__gte=now - STALE_AFTER).order_by("name"))


def heartbeat_age(*, prefix: str, now=None) -> float | None:
    """Seconds since the freshest heartbeat whose name starts with `prefix` (None: never)."""
    newest = Heartbeat.objects.filter(name__startswith=prefix).order_by("-beat_at").values_list("beat_at", flat=True).first()
    return None if newest is None else ((now or timezone.now()) - newest).total_seconds()


def heartbeat_thread_start(*, name: str, every: float = HEARTBEAT_SECONDS) -> threading.Thread:
    """A daemon thread writing `name`'s heartbeat until the process ends (beat uses it)."""
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                heartbeat_record(name=name)
            except Exception:
                log.warning("heartbeat not written", name=name, exc_info=True)
            finally:
                close_old_connections()
            stop.wait(every)

    thread = threading.Thread(target=run, name=f"heartbeat-{name}", daemon=True)
    thread.start()
    return thread


class HeartbeatMetrics:
    """tradedesk_heartbeat_age_seconds{process}: worker (the freshest of them) and beat."""

    PROCESSES = {"worker": "worker@", "beat": "beat"}

    def describe(self):
        from prometheus_client.core import GaugeMetricFamily

        return [GaugeMetricFamily("tradedesk_heartbeat_age_seconds", "", labels=[])]

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            "tradedesk_heartbeat_age_seconds", "Seconds since the process's last heartbeat", labels=["process"]
        )
        now = timezone.now()
        try:
            for process, prefix in self.PROCESSES.items():
                age = heartbeat_age(prefix=prefix, now=now)
                if age is not None:
                    family.add_metric([process], age)
        except Exception:
            log.warning("heartbeat ages not read", exc_info=True)
        yield family
