"""A real Celery worker for tests (celery.contrib.testing), on the app's real broker."""

import time
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from tradedesk.celery import app


@contextmanager
def celery_worker(*, concurrency: int = 2):
    """Threads pool so the worker shares this process's test database settings. Messages
    left on the broker by an earlier run are purged first: they name rows of another database."""
    app.control.purge()
    with start_worker(app, pool="threads", concurrency=concurrency, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=20):
        yield app


def wait_until(condition, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll a condition, bounded: tests never hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
