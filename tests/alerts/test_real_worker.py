"""The desk as deployed: beat (django-celery-beat's database scheduler) queues the dispatcher every
2 s on the `alerts` queue, a real Celery worker process consumes it, PostgreSQL and Redis are
real, and so are the receivers (SMTP, Telegram sendMessage, Discord, Slack, a signed webhook).
Setting the kill switch HALTED reaches every channel with the account and the reason; a 429 is
retried after its retry_after and a receiver down twice gets the third attempt; a worker killed
in the middle of a batch and started again sends every alert, none twice (the time it takes is
measured by bench/alerts.py, not asserted here)."""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.alerts.models import Delivery
from apps.common.models import EventCursor
from apps.desk.beat import beat_schedule_install
from apps.risk.services import kill_switch_set
from tests.alerts.conftest import channel_make
from tests.alerts.receivers import DISCORD_PATH, SLACK_PATH, TELEGRAM_PATH, WEBHOOK_PATH
from tests.trading.factories import account_make
from tests.workers import wait_until
from tradedesk.celery import DEFAULT_BEAT_SCHEDULE, app

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(settings.BASE_DIR)
DISPATCH = "alerts: events to alerts, deliveries and retries"


def desk_env() -> dict:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ALERTS_RETRY_SECONDS": "0.2",
        "ALERTS_SENDING_STALE_SECONDS": "1",
        "ALERTS_GAP_WAIT_SECONDS": "0.5",
        "ALERTS_SEND_THREADS": "1",
        "LOG_FORMAT": "console",
    }
    env.pop("TEST_DATABASE_NAME", None)
    if not env.get("REDIS_URL"):
        pytest.fail("this test needs Redis: set REDIS_URL")
    return env


class Desk:
    """Beat and one worker on the alerts queue, as processes of their own."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="alerts-beat-")
        self.beat = self.worker = None

    def worker_start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "tradedesk", "worker", "-Q", "alerts", "-P", "threads", "-c", "2"]
        command += ["--without-gossip", "--without-mingle", "-n", f"alerts-test-{os.getpid()}@%h", "-l", "WARNING"]
        self.worker = subprocess.Popen(command, cwd=ROOT, env=desk_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def beat_start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "tradedesk", "beat", "-l", "WARNING"]
        command += ["-S", "django_celery_beat.schedulers:DatabaseScheduler", "--pidfile", f"{self.folder}/beat.pid"]
        self.beat = subprocess.Popen(command, cwd=ROOT, env=desk_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def worker_kill(self) -> None:
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(timeout=30)

    def stop(self) -> None:
        for process in (self.beat, self.worker):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def desk():
    app.control.purge()  # ticks a previous run left on the broker name rows of another database
    beat_schedule_install({DISPATCH: DEFAULT_BEAT_SCHEDULE[DISPATCH]})
    running = Desk()
    running.worker_start()
    running.beat_start()
    try:
        wait_until(lambda: EventCursor.objects.filter(name="alerts").exists(), timeout=60, message="the first tick")
        yield running
    finally:
        running.stop()
        app.control.purge()


def test_halted_reaches_every_channel_once_through_beat_and_a_real_worker(receivers, every_channel, desk):
    receivers.answer_next(DISCORD_PATH, ("429", 1.5))  # rate limited first
    receivers.answer_next(WEBHOOK_PATH, ("drop",), ("503",))  # down for two attempts
    account = account_make(name="main")

    kill_switch_set(actor=None, account=account, state="halted", reason="venue outage <BTC>")
    wait_until(lambda: receivers.delivered_count() >= 5, timeout=60, message="a message on every channel")
    time.sleep(2.5)  # a beat tick or two more: nothing may repeat

    assert receivers.delivered_count() == 5
    (telegram,) = receivers.delivered(TELEGRAM_PATH)
    assert "main" in telegram.body["text"] and "venue outage &lt;BTC&gt;" in telegram.body["text"]
    (slack,) = receivers.delivered(SLACK_PATH)
    assert "venue outage &lt;BTC&gt;" in slack.body["blocks"][1]["text"]["text"]
    refused, accepted = receivers.attempts(DISCORD_PATH)
    assert refused.answered == 429 and accepted.at - refused.at >= 1.5
    assert [attempt.answered for attempt in receivers.attempts(WEBHOOK_PATH)] == [0, 503, 200]
    (webhook,) = receivers.delivered(WEBHOOK_PATH)
    raw = json.dumps(webhook.body, separators=(",", ":")).encode()
    assert webhook.headers["X-Tradedesk-Signature"] == "sha256=" + hmac.new(b"hmac-key", raw, hashlib.sha256).hexdigest()
    assert webhook.body["account"] == "main" and "venue outage <BTC>" in webhook.body["body"]
    (mail,) = receivers.mails
    assert mail.subject.startswith("[CRITICAL] Kill switch changed") and "main" in mail.html
    assert set(Delivery.objects.values_list("outcome", flat=True)) == {"sent"}


def test_a_worker_killed_mid_batch_and_started_again_misses_nothing_and_sends_nothing_twice(receivers, desk):
    channel_make(receivers, "webhook")
    receivers.answer_delay = 0.1
    account = account_make()
    for number in range(1, 31):
        kill_switch_set(actor=None, account=account, state="halted" if number % 2 else "reduce_only", reason=f"change {number}")

    keys = lambda: Counter(request.headers["Idempotency-Key"] for request in receivers.delivered(WEBHOOK_PATH))  # noqa: E731 - read at each call
    wait_until(lambda: len(keys()) >= 5, timeout=60, message="the first messages")
    desk.worker_kill()
    assert len(keys()) < 30  # it really died in the middle
    desk.worker_start()
    wait_until(lambda: len(keys()) >= 30, timeout=90, message="every alert after the restart")
    time.sleep(2.5)

    received = keys()
    assert len(received) == 30
    # Only the message in flight when the worker died may repeat (outcome unknown; the same
    # Idempotency-Key lets the receiver drop it): one thread sends, so at most one.
    assert sum(received.values()) - len(received) <= 1
