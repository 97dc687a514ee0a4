"""On PostgreSQL the relay wakes on the outbox's commit notification instead of its poll: with a
poll of a minute, an event committed now still reaches its group at once, in id order; an event
rolled back never does."""

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from apps.common.events import event_record
from apps.web.relay import OutboxWaker
from tests.web.runtime import RelayThread
from tests.web.test_relay import RecordingLayer
from tests.workers import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
POLL_A_MINUTE = 60.0


def candle_event(close: str):
    payload = {"market": "BTC/USDT", "timeframe": "1m", "time": 0, "open": close, "high": close}
    payload |= {"low": close, "close": close, "volume": "1"}
    return event_record("candle.closed", payload, market="BTC-USDT", tf="1m")


def committed(close: str) -> int:
    with transaction.atomic():
        return candle_event(close).id


def test_an_event_committed_wakes_the_relay_long_before_its_poll():
    layer = RecordingLayer()
    committed("1")  # the first relay of a desk starts at the newest event
    with RelayThread(layer, poll_seconds=POLL_A_MINUTE, name="listen-test"):
        wait_until(lambda: _waker_listening(), timeout=10, message="the relay to listen")
        first, second = committed("2"), committed("3")
        wait_until(lambda: layer.ids() == [first, second], timeout=10, message="both events delivered on their commits")
        with pytest.raises(RuntimeError), transaction.atomic():
            candle_event("4")
            raise RuntimeError("the change fails: its event goes with it")
        third = committed("5")
        wait_until(lambda: len(layer.ids()) == 3, timeout=10, message="the next commit delivered")
    assert layer.ids() == [first, second, third]


_listening = {"seen": False}


def _waker_listening() -> bool:
    return _listening["seen"]


@pytest.fixture(autouse=True)
def note_when_listening(monkeypatch):
    """Tell the test when the relay's listener is connected (a commit before it is only polled)."""
    connected = OutboxWaker._connected

    async def spy(self):
        found = await connected(self)
        _listening["seen"] = found is not None
        return found

    _listening["seen"] = False
    monkeypatch.setattr(OutboxWaker, "_connected", spy)


def test_without_postgresql_listening_is_off(settings):
    assert async_to_sync(OutboxWaker(listen=False)._connected)() is None
