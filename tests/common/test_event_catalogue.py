"""The event catalogue: every event is declared once and built by one function, which refuses
what does not match its declaration; topics say which account (if any) may see them."""

import pytest
from django.db import transaction

from apps.common.events import (
    CANDLES,
    CATALOGUE,
    ORDERS,
    TOPICS,
    Audience,
    EventMismatch,
    EventNotDeclared,
    event_build,
    event_latest,
    event_record,
    topic_parse,
)
from apps.common.models import Event

FILL = {
    "fill": 1,
    "order": 2,
    "client_order_id": "td1",
    "side": "buy",
    "price": "43000.5",
    "amount": "0.01",
    "fee": "0.43",
    "fee_currency": "USDT",
}


def test_an_event_goes_to_the_topic_its_kind_declares():
    event = event_build("fill.applied", FILL, account=7)

    assert (event.kind, event.topic, event.payload) == ("fill.applied", "orders.7", FILL)


def test_a_candle_event_goes_to_its_market_and_timeframe():
    payload = {
        "market": "BTC/USDT",
        "timeframe": "1m",
        "time": 0,
        "open": "1",
        "high": "1",
        "low": "1",
        "close": "1",
        "volume": "1",
    }

    assert event_build("candle.closed", payload, market="BTC-USDT", tf="1m").topic == "candles.BTC-USDT.1m"


def test_an_undeclared_kind_fails_loudly():
    with pytest.raises(EventNotDeclared, match="'order.vanished' is not declared"):
        event_build("order.vanished", {}, account=7)


def test_a_payload_with_a_field_missing_and_one_undeclared_names_both():
    payload = {**FILL, "venue": "sim"}
    del payload["fee"]

    with pytest.raises(EventMismatch, match=r"missing \['fee'\], not declared \['venue'\]"):
        event_build("fill.applied", payload, account=7)


@pytest.mark.parametrize("values", [{}, {"account": None}, {"account": "7"}, {"account": 7, "market": "BTC-USDT"}])
def test_a_topic_value_missing_or_of_the_wrong_shape_is_refused(values):
    with pytest.raises(EventMismatch):
        event_build("fill.applied", FILL, **values)


def test_a_market_name_that_would_break_the_topic_is_refused():
    with pytest.raises(EventMismatch):
        CANDLES.name(market="BTC.USDT", tf="1m")


def test_the_desk_wide_kill_switch_goes_to_the_global_risk_topic_and_an_accounts_to_its_own():
    payload = {"risk_event": 1, "rule": "kill_switch", "reason": "halted", "strategy": None}

    assert event_build("risk.action_taken", payload).topic == "risk.global"
    assert event_build("risk.action_taken", payload, account=3).topic == "risk.3"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.template)
def test_every_topic_read_back_gives_the_values_it_was_built_from(topic):
    samples = {"account": 12, "market": "ETH-USDT", "tf": "15m", "user": 5}
    values = {name: samples[name] for name in topic.params}

    match = topic_parse(topic.name(**values))

    assert match.topic == topic and match.values == values
    assert match.account_id == (12 if topic.audience == Audience.ACCOUNT else None)
    assert match.user_id == (5 if topic.audience == Audience.OWNER else None)


@pytest.mark.parametrize(
    "name", ["orders", "orders.", "orders.abc", "orders.0", "orders.7.x", "candles.BTC-USDT", "secret.7", "risk.everything"]
)
def test_a_name_of_no_declared_shape_is_not_a_topic(name):
    assert topic_parse(name) is None


def test_account_topics_are_the_ones_a_member_needs_and_market_data_is_for_everyone():
    assert topic_parse("orders.7").topic.audience == Audience.ACCOUNT
    assert topic_parse("candles.BTC-USDT.1m").topic.audience == Audience.EVERYONE
    assert all(ORDERS in kind.topics for name, kind in CATALOGUE.items() if name.startswith("order."))


@pytest.mark.django_db
def test_a_recorded_event_is_stored_and_the_newest_is_read_back_by_payload():
    with transaction.atomic():
        event_record("fill.applied", FILL, account=7)
        newest = event_record("fill.applied", {**FILL, "fill": 9}, account=7)
        event_record("fill.applied", {**FILL, "fill": 10}, account=8)

    assert Event.objects.filter(topic="orders.7").count() == 2
    assert event_latest("fill.applied", account=7) == newest
    assert event_latest("fill.applied", payload_match={"fill": 1}, account=7).payload == FILL
