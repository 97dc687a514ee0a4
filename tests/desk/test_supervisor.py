"""The supervisor behind `make run`: dead children come back after a growing back-off, a child
that runs healthily starts over from the first delay, and every death is reported."""

import sys

import pytest

from apps.desk.supervisor import Backoff, ChildExited, Supervisor
from tests.workers import wait_until


def test_the_back_off_doubles_up_to_30_seconds_and_starts_over_after_a_healthy_run():
    backoff = Backoff()

    quick_deaths = [backoff.delay_after(ran_for=2) for _ in range(7)]
    after_a_healthy_hour = backoff.delay_after(ran_for=3600)

    assert quick_deaths == [1, 2, 4, 8, 16, 30, 30]
    assert after_a_healthy_hour == 1


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_child_that_dies_is_reported_and_started_again_once_its_back_off_is_over(tmp_path):
    lines, clock = [], Clock()
    supervisor = Supervisor(log_dir=tmp_path / "log", report=lines.append, clock=clock)
    child = supervisor.start("flaky", [sys.executable, "-c", "print('about to fail'); raise SystemExit(3)"])
    first_pid = child.process.pid
    wait_until(lambda: child.process.poll() is not None, timeout=10, message="the child to exit")

    supervisor.tick()
    clock.now += 0.5
    supervisor.tick()  # still waiting
    clock.now += 0.6
    supervisor.tick()

    assert lines[0].endswith(f"flaky (pid {first_pid}) died with code 3; restarting in 1s (see {tmp_path / 'log' / 'flaky.log'})")
    assert lines[1].endswith(f"flaky restarted (pid {child.process.pid})") and len(lines) == 2
    assert child.process.pid != first_pid
    assert (tmp_path / "log" / "flaky.log").read_text().count("about to fail") >= 1
    supervisor.stop_all()


def test_a_child_that_dies_while_the_desk_starts_is_an_error_showing_its_log(tmp_path):
    supervisor = Supervisor(log_dir=tmp_path / "log", report=print)
    child = supervisor.start("web", [sys.executable, "-c", "import sys; sys.exit('port 8000 is already in use')"])
    wait_until(lambda: child.process.poll() is not None, timeout=10, message="the child to exit")

    with pytest.raises(ChildExited) as error:
        supervisor.check_alive()

    assert "web exited with code 1" in str(error.value) and "port 8000 is already in use" in str(error.value)


def test_stopping_ends_every_child_and_restarts_nothing(tmp_path):
    lines = []
    supervisor = Supervisor(log_dir=tmp_path / "log", report=lines.append)
    children = [supervisor.start(name, [sys.executable, "-c", "import time; time.sleep(60)"]) for name in ("a", "b")]

    killed = supervisor.stop_all(timeout=10)
    supervisor.tick()

    assert killed == [] and all(child.process.poll() is not None for child in children)
    assert lines == []  # a stopped child is not a dead one
