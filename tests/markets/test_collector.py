"""The collector against the simulated exchange through the real ccxt client."""

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.common.models import Event
from apps.exchanges.clients import ccxt_client_build
from apps.markets.models import Candle
from apps.markets.services import collector_run
from apps.simexchange.faults import ErrorFault

pytestmark = pytest.mark.django_db


def _client(sim):
    return ccxt_client_build(ccxt_id="binance", base_url=sim.url)


def _stored_times(collector):
    return list(
        Candle.objects.filter(market=collector.market, timeframe="1m").order_by("open_time").values_list("open_time", flat=True)
    )


def test_it_stores_every_closed_candle_once_and_never_the_forming_one(sim, collector):
    result = collector_run(collector_id=collector.pk, client=_client(sim))

    times = _stored_times(collector)
    assert result.inserted == len(times) == 500
    assert all(later - earlier == timedelta(minutes=1) for earlier, later in zip(times, times[1:]))
    server_now_ms = sim.clock.now_ms()
    newest_close_ms = int(times[-1].timestamp() * 1000) + 60_000
    assert newest_close_ms <= server_now_ms < newest_close_ms + 60_000  # the forming candle is not stored


def test_running_it_again_adds_nothing(sim, collector):
    collector_run(collector_id=collector.pk, client=_client(sim))
    events_before = Event.objects.count()

    again = collector_run(collector_id=collector.pk, client=_client(sim))

    assert again.inserted == 0
    assert Candle.objects.count() == 500
    assert Event.objects.count() == events_before


def test_stored_candles_match_the_exchange_exactly(sim, collector):
    client = _client(sim)
    collector_run(collector_id=collector.pk, client=client)
    newest = Candle.objects.filter(market=collector.market).latest("open_time")

    raw = client.fetch_ohlcv("BTC/USDT", "1m", since=int(newest.open_time.timestamp() * 1000), limit=1)[0]

    assert (newest.open, newest.high, newest.low, newest.close) == tuple(Decimal(repr(value)) for value in raw[1:5])


def test_a_gap_in_the_stored_candles_is_repaired(sim, collector):
    collector_run(collector_id=collector.pk, client=_client(sim))
    times = _stored_times(collector)
    hole = times[100:110]
    Candle.objects.filter(market=collector.market, open_time__in=hole).delete()

    result = collector_run(collector_id=collector.pk, client=_client(sim))

    assert result.gaps_repaired == 10
    assert _stored_times(collector) == times + _stored_times(collector)[len(times) :]


def test_a_rate_limit_then_an_outage_is_retried_and_succeeds(sim, collector):
    sim.faults.error_add(ErrorFault(status=429, code=-1003, path="/api/v3/klines"))
    sim.faults.error_add(ErrorFault(status=503, path="/api/v3/klines"))

    result = collector_run(collector_id=collector.pk, client=_client(sim))

    collector.refresh_from_db()
    assert result.inserted == 500
    assert collector.consecutive_errors == 0 and collector.last_error == ""
    assert sim.faults.describe()["errors"] == []  # both faults were hit, then the retry got through


def test_a_bad_signature_is_not_retried_and_is_recorded_on_the_collector(sim, collector):
    sim.faults.error_add(ErrorFault(status=400, code=-1022, path="/api/v3/klines", remaining=2))

    result = collector_run(collector_id=collector.pk, client=_client(sim))

    collector.refresh_from_db()
    assert result.inserted == 0
    assert collector.last_error_class == "authentication"
    assert "-1022" in collector.last_error or "Signature" in collector.last_error
    assert collector.error_counts == {"authentication": 1}
    assert sim.faults.describe()["errors"][0]["remaining"] == 1  # asked once, not retried


@pytest.mark.parametrize(
    "body",
    [
        '{"unexpected": "shape"}',
        '[[1700000000000, "1.0", "2.0"]]',
        '[[1700000000000, "1.0", "0.5", "2.0", "1.5", "3.0", 1700000059999]]',  # high below low
        "<html>gateway error</html>",
    ],
)
def test_a_malformed_reply_is_recorded_as_such(sim, collector, body):
    sim.faults.error_add(ErrorFault(status=200, path="/api/v3/klines", text=body))

    result = collector_run(collector_id=collector.pk, client=_client(sim))

    collector.refresh_from_db()
    assert result.inserted == 0
    assert collector.last_error_class == "malformed_reply"
    assert collector.consecutive_errors == 1


def test_an_unreachable_exchange_is_recorded_not_raised(collector):
    collector.market.exchange.api_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    collector.market.exchange.save()

    collector_run(collector_id=collector.pk)

    collector.refresh_from_db()
    assert collector.last_error_class == "unavailable"


def test_a_collection_queued_for_a_deleted_collector_does_nothing(collector):
    collector_id = collector.pk
    collector.delete()

    assert collector_run(collector_id=collector_id).inserted == 0


def test_new_candles_are_announced_once_after_commit_and_nothing_else_is(sim, collector):
    from apps.markets.signals import candles_closed

    announced = []

    def remember(sender, **kwargs):
        announced.append(kwargs)

    candles_closed.connect(remember)
    try:
        collector_run(collector_id=collector.pk, client=_client(sim))
        collector_run(collector_id=collector.pk, client=_client(sim))  # nothing new
    finally:
        candles_closed.disconnect(remember)

    assert len(announced) == 1
    assert announced[0]["market_id"] == collector.market_id and announced[0]["timeframe"] == "1m"
    assert len(announced[0]["open_times"]) == 500


def test_strategies_listen_to_closed_candles():
    from apps.markets.signals import candles_closed

    assert any("evaluate_on_candles_closed" in str(receiver[0]) for receiver in candles_closed.receivers)
