"""A real Celery worker for tests (celery.contrib.testing), on the app's real broker."""

import time
from contextlib import contextmanager

from celery import signals
from celery.contrib.testing.worker import start_worker

from tradedesk.celery import app


@contextmanager
def celery_worker(*, concurrency: int = 2, reconciled: bool = True):
    """Threads pool so the worker shares this process's test database settings. Messages
    left on the broker by an earlier run are purged first: they name rows of another database.
    A started worker closes the start gate of every sim/live account; with `reconciled` the
    worker is handed over once it reconciled them all (as a desk is ready to trade)."""
    app.control.purge()
    signals.task_postrun.connect(_connection_close, dispatch_uid="tests-worker-connection-close")
    try:
        with start_worker(
            app, pool="threads", concurrency=concurrency, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=20
        ):
            if reconciled:
                gates_open_wait()
            yield app
    finally:
        signals.task_postrun.disconnect(dispatch_uid="tests-worker-connection-close")


def gates_open_wait(timeout: float = 30) -> None:
    from apps.trading.holdings_gate import gates_closed_count

    wait_until(lambda: gates_closed_count() == 0, timeout=timeout, message="the start gates to open (holdings reconciled)")


def _connection_close(task=None, **_) -> None:
    """Workers keep their database connection between tasks; this one's threads would keep theirs
    past the test and the test database could not be dropped."""
    from django.db import connection

    if task is None or not getattr(task.request, "is_eager", False):
        connection.close()


def wait_until(condition, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll a condition, bounded: tests never hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
