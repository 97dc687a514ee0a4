"""Prometheus in multiprocess mode: every process of the desk (web, Celery worker and its pool,
beat, relay) writes its counters and histograms to memory-mapped files in one folder
(PROMETHEUS_MULTIPROC_DIR, default var/metrics), and the web process that answers /metrics adds
them up. An increment is a write into a mapped page (no lock across processes, no I/O on the
order path).

Configured from settings before anything creates a metric. The file of a process is named by
host and pid, so containers sharing the folder (docker-compose mounts one volume into every desk
service) never write into each other's files."""

import os
import re
import socket
from pathlib import Path

ENV_NAME = "PROMETHEUS_MULTIPROC_DIR"
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


# No "_": prometheus_client splits file names on it to find the pid. Asked on every increment
# (to notice a fork), so it is kept ready and renewed in a forked child (Celery's prefork pool).
_identity = {"id": f"{_HOST}-{os.getpid()}"}
os.register_at_fork(after_in_child=lambda: _identity.update(id=f"{_HOST}-{os.getpid()}"))


def _process_identifier() -> str:
    return _identity["id"]


def multiprocess_configure(folder: Path) -> Path:
    """Point prometheus_client at `folder` (an existing PROMETHEUS_MULTIPROC_DIR wins, so that
    the processes a desk starts share their parent's) and create it."""
    os.environ.setdefault(ENV_NAME, str(folder))
    path = Path(os.environ[ENV_NAME])
    path.mkdir(parents=True, exist_ok=True)
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue(_process_identifier)
    return path


def multiprocess_folder_clear(folder: Path) -> int:
    """Remove the files of earlier runs (rundesk does this before it starts the processes: the
    counters of a stopped desk are history, and Prometheus takes a reset as a restart)."""
    removed = 0
    for stale in Path(folder).glob("*.db"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed
