"""The dead man's switch pings a real local HTTP receiver: alive while the alert pipeline keeps
up, `/fail` when events wait unread, nothing at all without a URL, never an error when the
receiver is down."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.alerts.heartbeat import heartbeat_ping
from apps.alerts.services import alerts_tick
from apps.risk.services import kill_switch_set
from tests.alerts.receivers import free_port
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db
PING_PATH = "/ping/5f3c-uuid"


@pytest.fixture
def heartbeat_url(receivers, settings):
    settings.ALERTS_HEARTBEAT_URL = receivers.http_url + PING_PATH
    return settings.ALERTS_HEARTBEAT_URL


def test_the_desk_pings_its_heartbeat_url_and_says_fail_when_alerts_are_stuck(receivers, heartbeat_url):
    alerts_tick(budget_seconds=2)  # the dispatcher has run: its cursor exists

    assert heartbeat_ping().ok
    (alive,) = receivers.attempts(PING_PATH)
    assert alive.answered == 200 and alive.body == {"ok": True, "detail": "tradedesk alive"}

    kill_switch_set(actor=None, account=account_make(), state="halted", reason="nobody reads this")
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        stuck = heartbeat_ping()  # the dispatcher did not run for 6 minutes
    assert not stuck.ok and stuck.answered == 200
    assert [request.path for request in receivers.attempts(PING_PATH + "/fail")] == [PING_PATH + "/fail"]

    alerts_tick(budget_seconds=2)
    assert heartbeat_ping().ok


def test_no_url_no_ping_and_a_receiver_down_is_no_error(settings):
    settings.ALERTS_HEARTBEAT_URL = ""
    assert heartbeat_ping() is None

    settings.ALERTS_HEARTBEAT_URL = f"http://127.0.0.1:{free_port()}/ping/x"
    ping = heartbeat_ping()
    assert ping.ok and ping.answered is None
