"""The alert pipeline in a loop of its own, for a deployment that prefers a dedicated process to
beat's tick on the `alerts` queue (same work, apps.alerts.services.alerts_tick). SIGTERM or
Ctrl-C stops it after the message in flight is recorded, never in the middle of one."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from apps.alerts.services import alerts_tick

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Turn outbox events into alerts and deliver them, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0.5, help="Seconds between ticks when idle (default 0.5)")

    def handle(self, *args, every: float, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write("alerts dispatcher running", ending="\n")
        self.stdout.flush()
        while not stop.is_set():
            try:
                alerts_tick(stop=stop)
            except Exception:
                logger.exception("alerts tick failed; retrying")
            stop.wait(every)
        self.stdout.write("alerts dispatcher stopped")
