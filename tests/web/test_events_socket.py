"""/ws/events/ through the real ASGI stack (origin check, session auth, consumer, layer)."""

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from apps.common.models import Event
from apps.web.consumers import MAX_TOPICS, SubscribeError, subscription_parse
from apps.web.relay import relay_pass, relay_start_cursor
from tests.web.conftest import candle_close_record
from tradedesk.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
TOPIC = "candles.BTC-USDT.1m"
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def no_embedded_relay(settings):
    """These tests run relay passes themselves, one at a time."""
    settings.RELAY_IN_PROCESS = False


def socket_for(cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


def closed_candle(market, minutes_ago: int, close: str):
    open_time = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return database_sync_to_async(candle_close_record)(market=market, open_time=open_time, close=Decimal(close))


async def subscribe(communicator, since=None) -> dict:
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"subscribe": [TOPIC], "since": since})
    return await communicator.receive_json_from()


async def test_an_anonymous_socket_is_closed_with_4401():
    communicator = socket_for()

    connected, _ = await communicator.connect()
    closed = await communicator.receive_output()

    assert connected  # accepted first, so the browser sees the code and not a bare 1006
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_socket_from_another_origin_is_refused(session_cookie):
    communicator = WebsocketCommunicator(
        application, "/ws/events/", headers=[(b"origin", b"http://evil.example"), (b"cookie", session_cookie)]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_trader_receives_a_candle_closed_after_subscribing(session_cookie, market):
    cursor = await relay_start_cursor()
    communicator = socket_for(session_cookie)
    ack = await subscribe(communicator)
    assert ack["type"] == "subscribed" and ack["resync_truncated"] is False

    _, event = await closed_candle(market, minutes_ago=1, close="43210.5")
    await database_sync_to_async(Event.objects.create)(topic="candles.ETH-USDT.1m", kind="candle.closed", payload={})
    await relay_pass(get_channel_layer(), cursor)

    message = await communicator.receive_json_from()
    assert message == {"id": event.id, "kind": "candle.closed", "topic": TOPIC, "payload": event.payload}
    assert message["payload"]["close"] == "43210.5"  # exact decimal string, not a float
    assert await communicator.receive_nothing(timeout=0.2)  # not the other market's event
    await communicator.disconnect()


async def test_a_reconnecting_page_gets_the_events_it_missed_then_live_ones_without_duplicates(session_cookie, market):
    cursor = await relay_start_cursor()
    _, seen = await closed_candle(market, minutes_ago=4, close="43000")
    _, missed_1 = await closed_candle(market, minutes_ago=3, close="43001")
    _, missed_2 = await closed_candle(market, minutes_ago=2, close="43002")
    communicator = socket_for(session_cookie)
    await communicator.connect()
    await communicator.send_json_to({"subscribe": [TOPIC], "since": seen.id})

    resent = [await communicator.receive_json_from(), await communicator.receive_json_from()]
    ack = await communicator.receive_json_from()
    assert [m["id"] for m in resent] == [missed_1.id, missed_2.id]
    assert ack["type"] == "subscribed" and ack["resynced"] == 2 and ack["last_id"] == missed_2.id

    _, live = await closed_candle(market, minutes_ago=1, close="43003")
    await relay_pass(get_channel_layer(), cursor)  # relays missed_1, missed_2 again, then live
    assert (await communicator.receive_json_from())["id"] == live.id
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_live_event_reaches_its_page_while_the_web_process_is_busy_rendering_another(session_cookie, market):
    """A process renders all its pages on one thread; an event waiting for that thread (Channels
    does, by default, before each message) would wait for the renders a desk full of live
    pages makes on every event."""
    cursor = await relay_start_cursor()
    communicator = socket_for(session_cookie)
    assert (await subscribe(communicator))["type"] == "subscribed"
    _, event = await closed_candle(market, minutes_ago=1, close="43210.5")
    rendering = threading.Event()

    def a_slow_page_render():
        rendering.set()
        time.sleep(3)

    render = asyncio.ensure_future(sync_to_async(a_slow_page_render)())  # on the thread pages render on
    await asyncio.to_thread(rendering.wait, 5)
    await relay_pass(get_channel_layer(), cursor)

    assert (await communicator.receive_json_from(timeout=1))["id"] == event.id  # not 3 s later
    await render
    await communicator.disconnect()


async def test_a_page_that_missed_too_much_is_told_to_reload_its_history(session_cookie, market, monkeypatch):
    monkeypatch.setattr("apps.web.consumers.RESYNC_LIMIT", 2)
    for minutes_ago in (3, 2, 1):
        await closed_candle(market, minutes_ago=minutes_ago, close="43000")
    communicator = socket_for(session_cookie)

    ack = await subscribe(communicator, since=0)

    assert ack["type"] == "subscribed" and ack["resync_truncated"] is True and ack["resynced"] == 0
    await communicator.disconnect()


async def test_a_malformed_subscription_gets_a_clear_error_and_the_socket_stays_open(session_cookie):
    communicator = socket_for(session_cookie)
    await communicator.connect()

    await communicator.send_json_to({"subscribe": "candles.BTC-USDT.1m", "since": "yesterday"})
    error = await communicator.receive_json_from()
    await communicator.send_json_to({"subscribe": [TOPIC], "since": None})
    ack = await communicator.receive_json_from()

    assert error == {"type": "error", "message": '"subscribe" must be a non-empty list of topic names.'}
    assert ack["type"] == "subscribed"
    await communicator.disconnect()


async def test_a_page_ping_is_answered_with_a_pong_so_the_page_knows_the_desk_is_there(session_cookie):
    communicator = socket_for(session_cookie)
    ack = await subscribe(communicator)

    await communicator.send_json_to({"type": "ping"})

    assert ack["type"] == "subscribed"
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.redis
@pytest.mark.slow
async def test_an_idle_socket_on_channels_redis_stays_open_and_live_for_30_seconds(session_cookie, market, settings):
    """redis-py's default 5 s socket timeout used to end channels-redis' 5 s blocking pop with a
    TimeoutError, killing every socket that had nothing to receive for 5 s."""
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "apps.web.layers.DeskRedisChannelLayer"
    cursor = await relay_start_cursor()
    communicator = socket_for(session_cookie)
    assert (await subscribe(communicator))["type"] == "subscribed"

    assert await communicator.receive_nothing(timeout=30, interval=0.5)  # no close, no crash

    _, event = await closed_candle(market, minutes_ago=1, close="43210.5")
    await relay_pass(get_channel_layer(), cursor)
    assert (await communicator.receive_json_from(timeout=5))["id"] == event.id
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


def test_a_trader_with_four_accounts_and_positions_in_sixty_markets_gets_one_live_subscription():
    account_topics = [
        f"{kind}.{account}"
        for kind in ("orders", "positions", "risk", "signals", "strategies", "portfolio")
        for account in range(1, 5)
    ]
    candle_topics = [f"candles.market-{n}.1m" for n in range(60)]
    topics, since = subscription_parse({"subscribe": ["risk.desk", *account_topics, *candle_topics], "since": None})
    assert len(topics) == 85 and since is None


def test_a_subscription_past_the_bound_is_refused_saying_the_bound():
    with pytest.raises(SubscribeError, match=f"At most {MAX_TOPICS} topics"):
        subscription_parse({"subscribe": [f"candles.m{n}.1m" for n in range(MAX_TOPICS + 1)], "since": None})
