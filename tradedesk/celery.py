"""The one Celery app: queues per concern, JSON only, beat schedule defaults."""

import os

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")

app = Celery("tradedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "marketdata", "strategies", "orders", "alerts")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "apps.markets.tasks.*": {"queue": "marketdata"},
    "apps.trading.tasks.strategy_evaluate": {"queue": "strategies"},
    "apps.trading.tasks.*": {"queue": "orders"},
    "apps.risk.tasks.*": {"queue": "orders"},
    "apps.alerts.tasks.*": {"queue": "alerts"},  # a slow receiver never delays an order
}
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def db_connections_tidy(task=None, **_) -> None:
    """Between tasks, as Django does between requests: drop a connection that is broken or older
    than CONN_MAX_AGE, keep the others (opening one per task cost ~20 ms of every order's
    latency). Not for eager tasks: they run inside the caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


# Installed into django-celery-beat's tables by `manage.py install_beat_schedule`, once:
# after that the admin owns them (edits are never overwritten).
DEFAULT_BEAT_SCHEDULE = {
    "markets: collect due candles": {
        "task": "apps.markets.tasks.collect_due",
        "every_seconds": 10,
        "queue": "marketdata",
    },
    "trading: ticker prices and protective exits": {
        "task": "apps.trading.tasks.prices_poll",
        "every_seconds": 5,
        "queue": "orders",
    },
    "trading: sweep stuck orders": {
        "task": "apps.trading.tasks.orders_sweep",
        "every_seconds": 10,
        "queue": "orders",
    },
    "trading: holdings reconciled with the exchange": {
        "task": "apps.trading.tasks.holdings_reconcile_all",
        "every_seconds": 10,
        "queue": "orders",
    },
    "trading: balances and portfolio snapshot": {
        "task": "apps.trading.tasks.reconcile_all",
        "every_seconds": 60,
        "queue": "orders",
    },
    # A crontab entry: {"minute", "hour", ...} as django-celery-beat's CrontabSchedule, in UTC.
    "goals: daily snapshot": {
        "task": "apps.goals.tasks.goals_snapshot",
        "crontab": {"minute": "59", "hour": "23"},
    },
    "goals: sizing stances": {
        "task": "apps.goals.tasks.sizing_stances_refresh",
        "every_seconds": 300,
    },
    "alerts: events to alerts, deliveries and retries": {
        "task": "apps.alerts.tasks.alerts_dispatch",
        "every_seconds": 2,
        "queue": "alerts",
    },
}


def _ensure_filesystem_folders() -> None:
    """The serverless broker and result backend keep files in folders that must exist first."""
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    folders = [options.get(key) for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")]
    if settings.CELERY_RESULT_BACKEND.startswith("file://"):
        folders.append(settings.CELERY_RESULT_BACKEND.removeprefix("file://"))
    for folder in filter(None, folders):
        os.makedirs(folder, exist_ok=True)


_ensure_filesystem_folders()
