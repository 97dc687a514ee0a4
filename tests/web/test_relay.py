"""The relay delivers outbox events to Channels groups in id order, once, and waits (a bounded
time) for an id that a slower transaction has taken but not yet committed."""

import pytest
from asgiref.sync import async_to_sync

from apps.common.models import Event
from apps.web.relay import (
    GAP_WAIT_SECONDS,
    MESSAGE_TYPE,
    RelayCursor,
    relay_pass,
    relay_start_cursor,
    topic_group,
)

pytestmark = pytest.mark.django_db(transaction=True)
TOPIC = "candles.BTC-USDT.1m"


class RecordingLayer:
    """Stands in for a channel layer: remembers what was sent to which group."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group, message):
        self.sent.append((group, message))

    def ids(self) -> list[int]:
        return [message["event"]["id"] for _, message in self.sent]


def event_at(event_id: int, topic: str = TOPIC) -> Event:
    return Event.objects.create(id=event_id, topic=topic, kind="candle.closed", payload={"close": str(event_id)})


def run_pass(layer, cursor, now):
    return async_to_sync(relay_pass)(layer, cursor, now=now)


@pytest.fixture
def base() -> int:
    """The first id this test writes (PostgreSQL sequences do not restart between tests)."""
    last = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return last + 1000


def test_it_starts_at_the_newest_event_and_does_not_replay_history(base):
    event_at(base)
    cursor = async_to_sync(relay_start_cursor)()
    event_at(base + 1)
    layer = RecordingLayer()

    cursor = run_pass(layer, cursor, now=100.0)

    assert layer.ids() == [base + 1]
    assert cursor.last_id == base + 1


def test_it_sends_each_event_to_its_topic_group_as_the_consumer_expects(base):
    event = event_at(base)
    layer = RecordingLayer()

    run_pass(layer, RelayCursor(last_id=base - 1), now=100.0)

    assert layer.sent == [(TOPIC, {"type": MESSAGE_TYPE, "event": event.as_message()})]


def test_a_second_pass_sends_nothing_already_sent(base):
    event_at(base)
    event_at(base + 1)
    layer = RecordingLayer()

    cursor = run_pass(layer, RelayCursor(last_id=base - 1), now=100.0)
    cursor = run_pass(layer, cursor, now=100.2)

    assert layer.ids() == [base, base + 1]


def test_it_waits_for_a_missing_id_and_delivers_it_in_order_when_its_transaction_commits(base):
    for event_id in (base, base + 1, base + 3):  # base+2 is taken by a transaction still open
        event_at(event_id)
    layer = RecordingLayer()

    cursor = run_pass(layer, RelayCursor(last_id=base - 1), now=100.0)
    assert layer.ids() == [base, base + 1]
    cursor = run_pass(layer, cursor, now=100.0 + GAP_WAIT_SECONDS / 2)
    assert layer.ids() == [base, base + 1]

    event_at(base + 2)  # the slow transaction commits
    cursor = run_pass(layer, cursor, now=100.0 + GAP_WAIT_SECONDS * 0.9)

    assert layer.ids() == [base, base + 1, base + 2, base + 3]
    assert cursor.last_id == base + 3


def test_it_moves_past_a_missing_id_that_never_commits_after_the_bounded_wait(base):
    event_at(base)
    event_at(base + 2)  # base+1 was rolled back: it will never appear
    layer = RecordingLayer()

    cursor = run_pass(layer, RelayCursor(last_id=base - 1), now=100.0)
    cursor = run_pass(layer, cursor, now=100.0 + GAP_WAIT_SECONDS - 0.01)
    assert layer.ids() == [base]

    cursor = run_pass(layer, cursor, now=100.0 + GAP_WAIT_SECONDS)

    assert layer.ids() == [base, base + 2]
    assert cursor == RelayCursor(last_id=base + 2)  # nothing left to wait for


def test_a_gap_seen_later_gets_its_own_full_wait(base):
    event_at(base)
    event_at(base + 2)
    layer = RecordingLayer()
    cursor = run_pass(layer, RelayCursor(last_id=base - 1), now=100.0)
    event_at(base + 4)  # a second gap (base+3) appears only now
    cursor = run_pass(layer, cursor, now=101.0)

    cursor = run_pass(layer, cursor, now=100.0 + GAP_WAIT_SECONDS)  # first gap expired, second not
    assert layer.ids() == [base, base + 2]

    cursor = run_pass(layer, cursor, now=101.0 + GAP_WAIT_SECONDS)
    assert layer.ids() == [base, base + 2, base + 4]


def test_topics_with_characters_channels_refuses_still_get_a_valid_group_name():
    assert topic_group("candles.BTC-USDT.1m") == "candles.BTC-USDT.1m"
    assert topic_group("orders.acct 7/BTC:USDT") == "orders.acct_7_BTC_USDT"
    assert len(topic_group("x" * 300)) < 100


def test_started_on_an_empty_outbox_it_begins_at_the_first_event_without_waiting(base):
    Event.objects.all().delete()
    cursor = async_to_sync(relay_start_cursor)()
    event_at(base)
    event_at(base + 1)
    layer = RecordingLayer()

    cursor = run_pass(layer, cursor, now=100.0)

    assert layer.ids() == [base, base + 1]
