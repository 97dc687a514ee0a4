"""Keeps the desk's processes running for `make run`: a child that dies is restarted after a
back-off (1, 2, 4 ... 30 s; back to 1 s once it had run healthily for a while), and every death
and restart is reported. Each child writes to its own log file, so the console stays readable.

Production does not use this: docker-compose restarts its services (`restart: unless-stopped`).
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long before dying starts again from the first delay
STOP_TIMEOUT_S = 15.0


@dataclass
class Backoff:
    first: float = FIRST_DELAY_S
    cap: float = MAX_DELAY_S
    healthy_after: float = HEALTHY_AFTER_S
    failures: int = 0

    def delay_after(self, ran_for: float) -> float:
        """The wait before the next start of a child that died after running `ran_for` seconds."""
        if ran_for >= self.healthy_after:
            self.failures = 0
        delay = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return delay


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None  # set while it waits to be started again
    backoff: Backoff = field(default_factory=Backoff)


class ChildExited(Exception):
    def __init__(self, child: Child, code: int):
        self.child, self.code = child, code
        super().__init__(f"{child.name} exited with {exit_description(code)}; see {child.log_path}:\n{log_tail(child.log_path)}")


def exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])


class Supervisor:
    def __init__(self, *, log_dir: Path, report: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self.log_dir, self.report, self.clock = log_dir, report, clock
        self.children: list[Child] = []
        self.stopping = False
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str]) -> Child:
        child = Child(name=name, argv=argv, log_path=self.log_dir / f"{name}.log")
        self.children.append(child)
        self._launch(child)
        return child

    def _launch(self, child: Child) -> None:
        with open(child.log_path, "ab") as log:
            log.write(f"--- {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: starting {' '.join(child.argv)}\n".encode())
            log.flush()
            # Its own session: Ctrl-C in the terminal reaches us only, and we stop children in order.
            child.process = subprocess.Popen(child.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        child.started_at, child.restart_at = self.clock(), None

    def check_alive(self) -> None:
        """While the desk starts: a child that dies is a setup error, not something to retry."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ChildExited(child, code)

    def tick(self) -> None:
        """Notice children that died and start the ones whose back-off is over."""
        if self.stopping:
            return
        now = self.clock()
        for child in self.children:
            if child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                self._group_kill(child)  # e.g. a Celery pool orphaned by its main process
                delay = child.backoff.delay_after(now - child.started_at)
                child.restart_at = now + delay
                self.report(
                    f"{_stamp()} {child.name} (pid {child.process.pid}) died with {exit_description(code)}; "
                    f"restarting in {delay:.0f}s (see {child.log_path})"
                )
            elif now >= child.restart_at:
                self._launch(child)
                self.report(f"{_stamp()} {child.name} restarted (pid {child.process.pid})")

    def stop_all(self, timeout: float = STOP_TIMEOUT_S) -> list[str]:
        """Stop every child, newest first; return the names of those that had to be killed."""
        self.stopping = True
        running = [child for child in reversed(self.children) if child.restart_at is None and child.process.poll() is None]
        for child in running:
            # The leader only: Celery's main process stops its own pool (a TERM to the whole
            # group kills the pool under it, and the worker then hangs waiting for it).
            child.process.terminate()
        deadline = time.monotonic() + timeout
        killed = []
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                killed.append(child.name)
            self._group_kill(child)
        return killed

    @staticmethod
    def _group_kill(child: Child) -> None:
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # nothing left of it
        child.process.poll()


def _stamp() -> str:
    return f"[{datetime.now(UTC):%H:%M:%S}]"
