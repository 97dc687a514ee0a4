"""`manage.py alerts_dispatch` stopped in the middle of a batch and started again: every alert
reaches the receiver, none twice, also those raised while it was down. Killed outright, only the
message in flight may repeat, with the same Idempotency-Key for the receiver to drop."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.risk.services import kill_switch_set
from tests.alerts.conftest import channel_make
from tests.alerts.receivers import WEBHOOK_PATH
from tests.trading.factories import account_make
from tests.workers import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(settings.BASE_DIR)


def dispatcher_start() -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ALERTS_SEND_THREADS": "1",
        "ALERTS_SENDING_STALE_SECONDS": "1",
        "ALERTS_GAP_WAIT_SECONDS": "0.5",
        "ALERTS_RETRY_SECONDS": "0.2",
        "LOG_FORMAT": "console",
    }
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "alerts_dispatch", "--every", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_switch_changes(account, first: int, count: int) -> None:
    for number in range(first, first + count):
        kill_switch_set(actor=None, account=account, state="halted" if number % 2 else "reduce_only", reason=f"change {number}")


def keys_received(receivers) -> Counter:
    return Counter(request.headers["Idempotency-Key"] for request in receivers.delivered(WEBHOOK_PATH))


@pytest.fixture
def slow_webhook(receivers):
    channel_make(receivers, "webhook")
    receivers.answer_delay = 0.1
    return receivers


def test_a_dispatcher_stopped_mid_batch_and_restarted_sends_each_alert_once_and_misses_none(slow_webhook):
    account = account_make()
    kill_switch_changes(account, 1, 20)

    dispatcher = dispatcher_start()
    try:
        wait_until(lambda: len(keys_received(slow_webhook)) >= 5, message="the first messages")
        dispatcher.send_signal(signal.SIGTERM)
        dispatcher.wait(timeout=30)
    finally:
        dispatcher.kill()
    sent_before_the_stop = sum(keys_received(slow_webhook).values())
    assert 5 <= sent_before_the_stop < 20  # it really stopped in the middle
    kill_switch_changes(account, 21, 5)  # raised while the dispatcher is down

    dispatcher = dispatcher_start()
    try:
        wait_until(lambda: len(keys_received(slow_webhook)) >= 25, message="every alert")
        time.sleep(1.5)  # room for a repeat to show up
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        dispatcher.wait(timeout=30)

    received = keys_received(slow_webhook)
    assert len(received) == 25 and set(received.values()) == {1}


def test_a_dispatcher_killed_mid_send_misses_nothing_and_repeats_at_most_the_message_in_flight(slow_webhook):
    account = account_make()
    kill_switch_changes(account, 1, 20)

    dispatcher = dispatcher_start()
    try:
        wait_until(lambda: len(keys_received(slow_webhook)) >= 5, message="the first messages")
    finally:
        dispatcher.send_signal(signal.SIGKILL)
        dispatcher.wait(timeout=30)
    dispatcher = dispatcher_start()
    try:
        wait_until(lambda: len(keys_received(slow_webhook)) >= 20, message="every alert")
        time.sleep(1.5)
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        dispatcher.wait(timeout=30)

    received = keys_received(slow_webhook)
    assert len(received) == 20
    assert sum(received.values()) - len(received) <= 1  # ALERTS_SEND_THREADS=1: one message was in flight
