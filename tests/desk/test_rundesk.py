"""`make run`'s command on the embedded defaults: the whole desk comes up on a fresh folder, answers,
and SIGTERM (or Ctrl-C) stops every process it started, cleanly and in time."""

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.workers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Output:
    """A process's stdout, read in a thread so a bounded wait can look at it."""

    def __init__(self, process: subprocess.Popen):
        self.text = ""
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process):
        for line in process.stdout:
            self.text += line


@pytest.fixture
def desk_env(tmp_path):
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "REDIS_URL", "TRADEDESK_TESTING", "DJANGO_SETTINGS_MODULE")}
    return {**env, "VAR_DIR": str(tmp_path / "var"), "SIMEXCHANGE_URL": f"http://127.0.0.1:{free_port()}",
            "SECRET_KEY": "rundesk-test-" + "x" * 40, "FIELD_ENCRYPTION_KEY": "q" * 43 + "=", "DESK_ADMIN_PASSWORD": "desk-test-pw",
            "SIMEXCHANGE_HISTORY_DAYS": "1", "DEMO_BACKFILL_DAYS": "1", "WORKER_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1"}


def test_the_desk_starts_on_a_fresh_folder_and_sigterm_stops_every_process_cleanly(desk_env):
    port, exchange_port = free_port(), int(desk_env["SIMEXCHANGE_URL"].rsplit(":", 1)[1])
    desk = subprocess.Popen([sys.executable, "manage.py", "rundesk", "--port", str(port)], cwd=ROOT, env=desk_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = Output(desk)
    try:
        wait_until(lambda: "tradedesk is running" in output.text or desk.poll() is not None, timeout=240,
                   message="the desk to start")
        assert desk.poll() is None, output.text[-3000:]
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
        assert "login: admin / desk-test-pw" in output.text

        desk.send_signal(signal.SIGTERM)
        desk.wait(timeout=60)
    finally:
        if desk.poll() is None:
            os.killpg(desk.pid, signal.SIGKILL)

    assert "All desk processes stopped." in output.text
    assert "did not stop in time" not in output.text, output.text[-3000:]
    assert not answers(port) and not answers(exchange_port)
