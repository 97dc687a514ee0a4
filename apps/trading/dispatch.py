"""Queueing trading work by the task's name.

A task takes ids and calls one service, so the services sit below `apps.trading.tasks`; a
service that queues follow-up work (submit an order, look one up, sync balances) names the
task here instead of importing the tasks module, which would make the two import each other.
`apps.trading.apps` imports the tasks module when the app is ready, so every process (web,
worker, command) has the tasks registered before a service queues one.
"""

from celery import current_app


def task_queue(name: str, *args, countdown: float | None = None) -> None:
    """Queue `apps.trading.tasks.<name>(*args)` (run in place when tasks are eager)."""
    current_app.tasks[f"apps.trading.tasks.{name}"].apply_async(args=args, countdown=countdown)
