"""The whole live path on the production runtime: a Celery worker collects a candle from the
simulated exchange through ccxt, the relay delivers its event over channels-redis, and a
logged-in websocket receives it."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from apps.markets.models import Candle
from apps.markets.tasks import candles_collect
from apps.web.relay import relay_pass, relay_start_cursor
from tests.web.test_events_socket import socket_for
from tests.workers import celery_worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_embedded_relay(settings):
    settings.RELAY_IN_PROCESS = False


def _collect_on_a_worker(collector_id: int) -> dict:
    with celery_worker():
        return candles_collect.delay(collector_id).get(timeout=60)


async def test_a_socket_receives_the_candle_a_worker_stored(collector, sim, session_cookie):
    cursor = await relay_start_cursor()
    communicator = socket_for(session_cookie)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"subscribe": ["candles.BTC-USDT.1m"], "since": None})
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    await sync_to_async(_collect_on_a_worker)(collector.pk)  # the initial 500 candles: one backfill event
    await sync_to_async(sim.advance)(60)  # one more minute closes on the exchange
    result = await sync_to_async(_collect_on_a_worker)(collector.pk)

    await relay_pass(get_channel_layer(), cursor)
    backfilled = await communicator.receive_json_from(timeout=5)
    closed = await communicator.receive_json_from(timeout=5)

    newest = await sync_to_async(lambda: Candle.objects.latest("open_time"))()
    assert result["inserted"] == 1
    assert backfilled["kind"] == "candles.backfilled" and backfilled["payload"]["count"] == 500
    assert closed["kind"] == "candle.closed"
    assert closed["payload"]["time"] == int(newest.open_time.timestamp())
    assert Decimal(closed["payload"]["close"]) == newest.close
    assert closed["id"] > backfilled["id"]
    await communicator.disconnect()
