"""The production runtime in a test process: the relay as `manage.py relay` runs it (its own
event loop, channels_redis, woken by PostgreSQL's outbox notifications) in a thread."""

import asyncio
import threading

from channels.layers import get_channel_layer
from django.db import connection

from apps.web.relay import CURSOR_NAME, relay_run


class RelayThread:
    def __init__(self, layer=None, *, poll_seconds: float = 0.2, name: str = CURSOR_NAME):
        self.layer, self.poll_seconds, self.name = layer, poll_seconds, name
        self.loop = asyncio.new_event_loop()
        self.stop = None
        self.thread = threading.Thread(target=self._run, name="relay-test", daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.stop = asyncio.Event()
        layer = self.layer or get_channel_layer()
        try:
            self.loop.run_until_complete(relay_run(layer, poll_seconds=self.poll_seconds, stop=self.stop, name=self.name))
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        while self.stop is None and self.thread.is_alive():
            threading.Event().wait(0.01)
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)
