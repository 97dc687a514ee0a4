"""The one Celery app: queues per concern, JSON only, beat schedule defaults."""

import gc
import os

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")

app = Celery("tradedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "marketdata", "strategies", "orders", "alerts", "research")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "apps.markets.tasks.*": {"queue": "marketdata"},
    "apps.trading.tasks.strategy_evaluate": {"queue": "strategies"},
    "apps.trading.tasks.*": {"queue": "orders"},
    "apps.risk.tasks.*": {"queue": "orders"},
    "apps.alerts.tasks.*": {"queue": "alerts"},  # a slow receiver never delays an order
    "apps.research.tasks.*": {"queue": "research"},  # studies and backtests never delay live work
    "apps.strategies.tasks.*": {"queue": "research"},  # backtests: minutes of CPU, never before an order
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


@signals.worker_process_init.connect  # a prefork child, once forked
@signals.worker_ready.connect  # the worker process itself (the threads and solo pools run tasks in it)
def startup_heap_freeze(**_) -> None:
    """What a worker loaded at startup (Django, the apps, ccxt, numpy: some 340,000 objects)
    lives as long as the process: frozen out of the garbage collector's sight, as the web
    process does (tradedesk/asgi.py). Unfrozen, a full collection walked all of it again:
    0.2-0.5 s with every thread of the worker stopped, once every few thousand signals placed."""
    gc.freeze()


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
    "research: daily strategy review": {
        "task": "apps.research.tasks.strategies_daily_review",
        "crontab": {"minute": "5", "hour": "0"},
        "queue": "research",
        "description": "Ranks the running strategies with the market's regime and pauses those breaching their rules.",
    },
    "research: live vs backtest of yesterday": {
        "task": "apps.research.tasks.live_vs_backtest_nightly",
        "crontab": {"minute": "15", "hour": "0"},
        "queue": "research",
        "description": "Each running strategy's yesterday, live beside the backtest; alerts above RESEARCH_DIVERGENCE_THRESHOLD.",
    },
    "markets: pair scores": {
        "task": "apps.markets.tasks.market_scores_refresh",
        "crontab": {"minute": "5", "hour": "0"},
        "queue": "marketdata",
        "description": "Scores every active market on volatility, volume and momentum (the data page, 'top N by score').",
    },
    "goals: sizing stances": {
        "task": "apps.goals.tasks.sizing_stances_refresh",
        "every_seconds": 300,
    },
    "desk: worker heartbeat": {
        "task": "apps.desk.tasks.worker_heartbeat",
        "every_seconds": 10,
        "queue": "default",
        "description": "The worker's sign of life for /health/deep (and `manage.py restore` refuses while it is fresh).",
    },
    "alerts: events to alerts, deliveries and retries": {
        "task": "apps.alerts.tasks.alerts_dispatch",
        "every_seconds": 2,
        "queue": "alerts",
    },
    # The hour (UTC) from ALERTS_SUMMARY_HOUR at install; afterwards the admin's periodic tasks own it.
    "alerts: daily summary": {
        "task": "apps.alerts.tasks.alerts_daily_summary",
        "crontab": {"minute": "0", "hour": os.environ.get("ALERTS_SUMMARY_HOUR", "20")},
        "queue": "alerts",
    },
    # Off until an admin enables it and sets its kwargs (account id, symbols, and any search
    # setting: count, timeframe, days, generations, survivors...) in the periodic tasks admin.
    "research: generate strategies daily": {
        "task": "apps.research.tasks.strategies_generate_daily",
        "crontab": {"minute": "30", "hour": "2"},
        "queue": "research",
        "kwargs": {"account": None, "symbols": ["BTC/USDT"], "count": 500, "days": 90},
        "enabled": False,
        "description": "A genetic search (generate_strategies) over the last days; survivors are stopped strategies.",
    },
    "alerts: dead man's switch ping (ALERTS_HEARTBEAT_URL)": {
        "task": "apps.alerts.tasks.alerts_heartbeat",
        "every_seconds": 60,
        "queue": "alerts",
    },
}


@signals.after_setup_logger.connect
def log_file_keep(logger=None, **_) -> None:
    """Celery replaces the root logger's handlers with its own (worker and beat): put the
    process's rotating log file back beside them."""
    from apps.common.logging import file_handler_build

    handler = file_handler_build()
    if handler is not None and logger is not None:
        logger.addHandler(handler)


@signals.beat_init.connect
def beat_heartbeat_start(**_) -> None:
    """Beat's own sign of life, from a thread of the beat process."""
    from apps.common.heartbeats import heartbeat_thread_start

    heartbeat_thread_start(name="beat")


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
