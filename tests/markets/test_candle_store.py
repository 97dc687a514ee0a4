from decimal import Decimal

import pytest

from apps.common.models import Event
from apps.exchanges.errors import MalformedReplyError
from apps.markets.models import Candle
from apps.markets.services import candle_row_parse, candles_store

from .factories import candle_rows, collector_make

pytestmark = pytest.mark.django_db


def test_storing_candles_twice_keeps_each_candle_once():
    collector = collector_make()
    rows = candle_rows(count=5)

    first = candles_store(collector=collector, rows=rows)
    second = candles_store(collector=collector, rows=rows)

    assert len(first) == 5 and second == []
    assert Candle.objects.count() == 5
    assert collector.candles_stored == 5


def test_stored_prices_are_exact_decimals():
    collector = collector_make()
    candles_store(collector=collector, rows=candle_rows(count=1))

    candle = Candle.objects.get()
    assert candle.open == Decimal("60000.10")
    assert candle.low == Decimal("59995.85")
    assert candle.volume == Decimal("12.345678")


def test_each_new_live_candle_gets_one_closed_event_in_the_same_transaction():
    collector = collector_make()
    rows = candle_rows(count=3)
    candles_store(collector=collector, rows=rows[:2])
    candles_store(collector=collector, rows=rows)

    events = list(Event.objects.filter(kind="candle.closed"))
    assert [event.payload["time"] for event in events] == [int(row.open_time.timestamp()) for row in rows]
    assert events[0].topic == "candles.BTC-USDT.1m"
    assert events[0].payload["close"] == "60001.10"


def test_a_large_backfill_is_announced_as_one_event():
    collector = collector_make()
    candles_store(collector=collector, rows=candle_rows(count=50))

    assert Event.objects.filter(kind="candle.closed").count() == 0
    backfill = Event.objects.get(kind="candles.backfilled")
    assert backfill.payload["count"] == 50


def test_the_collector_remembers_its_newest_candle():
    collector = collector_make()
    rows = candle_rows(count=4)
    candles_store(collector=collector, rows=rows[2:])
    candles_store(collector=collector, rows=rows[:2])  # older, repaired later

    assert collector.last_candle_time == rows[-1].open_time


@pytest.mark.parametrize(
    "raw",
    [
        [1700000000000, "1", "2", "0.5"],  # too short
        [1700000000000, 1.0, 2.0, 0.5, None, 3.0],  # close missing
        [1700000000000, 1.0, 0.9, 0.5, 1.0, 3.0],  # high below open
        ["yesterday", 1.0, 2.0, 0.5, 1.0, 3.0],
        [1700000000000, float("nan"), 2.0, 0.5, 1.0, 3.0],
    ],
)
def test_a_malformed_exchange_candle_is_classified_not_crashed_on(raw):
    with pytest.raises(MalformedReplyError):
        candle_row_parse(raw)


def test_float_prices_from_ccxt_keep_their_printed_digits():
    row = candle_row_parse([1700000000000, 0.1, 0.3, 0.1, 0.2, 1e-8])
    assert row.open == Decimal("0.1") and row.volume == Decimal("1e-8")
