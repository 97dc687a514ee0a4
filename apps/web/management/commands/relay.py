"""`manage.py relay`: the production relay, outbox -> channels_redis groups (see apps/web/relay.py)."""

import asyncio
import signal

from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from apps.web.relay import POLL_SECONDS, relay_run


class Command(BaseCommand):
    help = "Deliver outbox events to live pages (run exactly one per deployment; RELAY_IN_PROCESS=False)."

    def add_arguments(self, parser):
        parser.add_argument("--poll", type=float, default=POLL_SECONDS, help="Seconds between passes (default 0.2)")
        parser.add_argument(
            "--no-listen",
            dest="listen",
            action="store_false",
            help="Poll only: do not wake on PostgreSQL's outbox notifications (for comparison)",
        )

    def handle(self, *args, poll: float, listen: bool, **options):
        layer = get_channel_layer()
        if layer is None:
            raise CommandError("No channel layer is configured (CHANNEL_LAYERS).")
        if type(layer).__name__ == "InMemoryChannelLayer":
            self.stderr.write(
                "warning: the in-memory channel layer only reaches this process; "
                "set REDIS_URL so the web processes receive the events."
            )
        wake = "woken by PostgreSQL LISTEN/NOTIFY, else " if listen else ""
        self.stdout.write(f"relay: {type(layer).__name__}, {wake}polling every {poll:.2f}s")
        asyncio.run(self._run(layer, poll, listen))
        self.stdout.write("relay: stopped")

    async def _run(self, layer, poll: float, listen: bool) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await relay_run(layer, poll_seconds=poll, stop=stop, listen=listen)
