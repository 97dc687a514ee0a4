"""Backups of the desk's database and their restore.

PostgreSQL: `pg_dump --format=custom` (restored with `pg_restore --clean --if-exists
--single-transaction`: all or nothing). SQLite: the online backup API (a consistent copy while
the desk writes, WAL included). Files go to BACKUP_DIR (var/backups) as
tradedesk-<UTC time>.dump / .sqlite3; the newest BACKUP_KEEP are kept.

A restore overwrites every order, fill and position, so it refuses while the desk runs: a desk
process gave a heartbeat within a minute (worker, beat), or `make run`'s supervisor pidfile
names a living process.
"""

import os
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, connections

from apps.common.audit import Via, audit_record
from apps.common.errors import Conflict, Invalid
from apps.common.heartbeats import heartbeats_fresh

PREFIX = "tradedesk-"
SUFFIXES = {"postgresql": ".dump", "sqlite": ".sqlite3"}
PIDFILE_NAME = "rundesk.pid"


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    removed: list[Path]


def backup_create(*, folder: Path, keep: int) -> Backup:
    """Write a backup of the database into `folder`, then remove all but the `keep` newest."""
    if keep < 1:
        raise Invalid.from_fields({"keep": "keep at least one backup (1 or more)"})
    folder.mkdir(parents=True, exist_ok=True)
    vendor = connection.vendor
    path = folder / f"{PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}{SUFFIXES[vendor]}"
    partial = path.with_name(path.name + ".partial")  # never mistaken for a backup if we die mid-way
    if vendor == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", *_pg_arguments()], "pg_dump")
    else:
        _sqlite_copy(source=Path(settings.DATABASES["default"]["NAME"]), target=partial)
    partial.chmod(0o600)  # password hashes and encrypted API keys: the owner only
    partial.rename(path)
    return Backup(path=path, size=path.stat().st_size, removed=_prune(folder, SUFFIXES[vendor], keep))


def backups_listed(folder: Path, suffix: str) -> list[Path]:
    """Oldest first (the names sort by time)."""
    return sorted(folder.glob(f"{PREFIX}*{suffix}"))


def _prune(folder: Path, suffix: str, keep: int) -> list[Path]:
    old = backups_listed(folder, suffix)[:-keep]
    for path in old:
        path.unlink()
    return old


def backup_restore(*, path: Path) -> dict[str, int]:
    """Replace the database's content with the backup's; returns counts of what it holds now."""
    if not path.is_file():
        raise Invalid.from_fields({"file": f"no backup at {path}"})
    vendor = connection.vendor
    if path.suffix != SUFFIXES[vendor]:
        raise Invalid.from_fields({"file": f"{path.name} is not a {vendor} backup (this desk's end in {SUFFIXES[vendor]})"})
    running = desk_running_reason()
    if running:
        raise Conflict(f"the desk is running ({running}): stop it before restoring")
    connections.close_all()
    if vendor == "postgresql":
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                *_pg_arguments(dbname_flag=True),
                str(path),
            ],
            "pg_restore",
        )
    else:
        _sqlite_copy(source=path, target=Path(settings.DATABASES["default"]["NAME"]))
    counts = restored_counts()
    audit_record(actor=None, via=Via.COMMAND, action="backup.restore", object_repr=path.name, after=counts)
    return counts


def desk_running_reason() -> str:
    """Why we think a desk runs on this database ('' when nothing says so)."""
    pid = _supervisor_pid()
    if pid:
        return f"`make run` is running (pid {pid} in {settings.VAR_DIR / PIDFILE_NAME})"
    try:
        fresh = heartbeats_fresh()
    except DatabaseError:
        return ""  # a fresh database: no desk has ever run on it
    return ", ".join(f"{beat.name} gave a heartbeat at {beat.beat_at:%H:%M:%S} UTC" for beat in fresh)


def supervisor_pidfile_write() -> Path:
    path = settings.VAR_DIR / PIDFILE_NAME
    path.write_text(str(os.getpid()))
    return path


def supervisor_pidfile_remove() -> None:
    path = settings.VAR_DIR / PIDFILE_NAME
    if _pidfile_pid(path) == os.getpid():
        path.unlink(missing_ok=True)


def _supervisor_pid() -> int | None:
    pid = _pidfile_pid(settings.VAR_DIR / PIDFILE_NAME)
    if pid is None or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a stale file from a desk that died
    except PermissionError:
        pass  # alive, someone else's
    return pid


def _pidfile_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def restored_counts() -> dict[str, int]:
    from apps.trading.models import Fill, Order, Position

    return {"orders": Order.objects.count(), "fills": Fill.objects.count(), "positions": Position.objects.count()}


SQLITE_LOCK_WAIT_SECONDS = 60


def _sqlite_copy(*, source: Path, target: Path, lock_wait: float = SQLITE_LOCK_WAIT_SECONDS) -> None:
    """SQLite's online backup: a consistent copy even while another process writes the source.
    sqlite3 retries a locked source forever; the progress callback, told of every step, bounds
    that wait so a backup against a database held locked fails in words instead of hanging."""
    deadline = time.monotonic() + lock_wait

    def step(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise Conflict(f"the database stayed locked for {lock_wait:.0f} s: try the backup again")

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst, progress=step)


def _pg_arguments(*, dbname_flag: bool = False) -> list[str]:
    db = settings.DATABASES["default"]
    arguments = [
        f"--host={db.get('HOST') or '127.0.0.1'}",
        f"--port={db.get('PORT') or 5432}",
        f"--username={db.get('USER') or 'postgres'}",
    ]
    return [*arguments, f"--dbname={db['NAME']}"] if dbname_flag else [*arguments, db["NAME"]]


def _run(argv: list[str], tool: str) -> None:
    env = {
        **os.environ,
        **({"PGPASSWORD": settings.DATABASES["default"]["PASSWORD"]} if settings.DATABASES["default"].get("PASSWORD") else {}),
    }
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600)
    except FileNotFoundError:
        raise Conflict(f"{tool} is not installed (Debian: apt-get install postgresql-client)") from None
    if result.returncode != 0:
        raise Conflict(f"{tool} failed: {result.stderr.strip()[-2000:]}")
