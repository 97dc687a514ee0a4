"""Optuna's RDB storage in the desk's own database: studies survive a crash, and every worker
on every machine that reaches the database shares them. One storage (one SQLAlchemy pool) per
process, created on first use (after a worker forks)."""

from __future__ import annotations

import threading
import warnings
from urllib.parse import quote

import optuna
from django.conf import settings
from django.db import connection

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Heartbeats and the stale-trial check are marked experimental, and Optuna expects them with
# study.optimize; we run ask/tell across workers and write heartbeats ourselves (studies.py).
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
_storages: dict[str, optuna.storages.RDBStorage] = {}
_lock = threading.Lock()


def storage_url() -> str:
    """PostgreSQL: the desk's database (the test database under pytest). SQLite: a file of its
    own beside the desk's, since Optuna's connection would wait on the desk's write lock."""
    db = connection.settings_dict
    if settings.IS_SQLITE:
        return f"sqlite:///{settings.VAR_DIR / 'research-optuna.sqlite3'}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql+psycopg://{quote(db['USER'] or '', safe='')}{password}@{db['HOST'] or 'localhost'}{port}/{db['NAME']}"


def study_storage(*, on_stale) -> optuna.storages.RDBStorage:
    """`on_stale(study, trial)` is called for each stale trial this process fails (the first
    caller's callback is the pool's)."""
    url = storage_url()
    with _lock:
        if url not in _storages:
            _storages[url] = optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=settings.RESEARCH_TRIAL_HEARTBEAT_SECONDS,
                grace_period=settings.RESEARCH_TRIAL_GRACE_SECONDS,
                heartbeat_stale_trial_callback=on_stale,
            )
        return _storages[url]


def storages_close() -> None:
    """Close every pooled connection (a test database cannot be dropped while they are open)."""
    with _lock:
        for storage in _storages.values():
            storage.engine.dispose()
        _storages.clear()
