"""A relay that stops (a crash, a deploy) resumes from its saved cursor: the events recorded
while it was down are delivered, in order, and nothing it had delivered is sent again."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction

from apps.common.cursors import cursor_position
from apps.common.events import event_record
from apps.web import relay
from apps.web.relay import CURSOR_NAME, topic_group

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(settings.BASE_DIR)
TOPIC_VALUES = {"market": "BTC-USDT", "tf": "1m"}
GROUP = topic_group("candles.BTC-USDT.1m")
DELIVERY_TIMEOUT = 30  # bounds a wait so a broken relay fails the test instead of hanging it


@database_sync_to_async
def candles_closed(*closes: int) -> list[int]:
    """Record candle.closed events, one transaction each, like the collector; their ids."""
    ids = []
    for close in closes:
        with transaction.atomic():
            payload = {
                "market": "BTC/USDT",
                "timeframe": "1m",
                "time": close,
                "open": "1",
                "high": "1",
                "low": "1",
                "close": str(close),
                "volume": "1",
            }
            ids.append(event_record("candle.closed", payload, **TOPIC_VALUES).id)
    return ids


async def delivered(layer, channel, count: int) -> list[int]:
    """The ids of the next `count` events the relay sends to the channel."""
    ids = []
    for _ in range(count):
        message = await asyncio.wait_for(layer.receive(channel), DELIVERY_TIMEOUT)
        ids.append(message["event"]["id"])
    return ids


async def nothing_more(layer, channel) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), 0.5)
    except TimeoutError:
        return True
    return False


async def cursor_reaches(event_id: int) -> None:
    """The relay saves its cursor after a delivered batch: wait for that save."""
    read = database_sync_to_async(cursor_position)
    async with asyncio.timeout(DELIVERY_TIMEOUT):
        while (await read(name=CURSOR_NAME) or 0) < event_id:
            await asyncio.sleep(0.05)


# --- Production: `manage.py relay` over channels_redis, killed and started again ------------


def relay_process_start(prefix: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CHANNELS_PREFIX": prefix,
        "RELAY_IN_PROCESS": "0",
        "LOG_FORMAT": "console",
    }
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "relay", "--poll", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def relay_process_kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)  # a crash: no clean shutdown, no last save
    process.wait(timeout=15)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
async def test_a_relay_process_killed_and_restarted_delivers_what_was_recorded_while_it_was_down(redis_url):
    from channels_redis.core import RedisChannelLayer

    prefix = f"test-relay-{uuid.uuid4().hex[:8]}"
    # As the desk's settings: a receive outlasting redis-py's default 5 s read timeout (a relay
    # restarting on a loaded machine can take longer) waits instead of failing.
    layer = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": 15}], prefix=prefix)
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    [history] = await candles_closed(1)
    process = relay_process_start(prefix)
    try:
        await cursor_reaches(history)  # the first relay starts at the newest event and saves it
        before = await candles_closed(2, 3)
        assert await delivered(layer, channel, 2) == before
        await cursor_reaches(before[-1])
        relay_process_kill(process)

        while_down = await candles_closed(4, 5, 6)
        process = relay_process_start(prefix)

        assert await delivered(layer, channel, 3) == while_down
        after = await candles_closed(7)
        assert await delivered(layer, channel, 1) == after
        assert await nothing_more(layer, channel)
    finally:
        if process.poll() is None:
            relay_process_kill(process)
        await layer.flush()


# --- Embedded: the relay task inside the web process, cancelled and started again ----------


@pytest.fixture
def embedded_runtime(settings):
    settings.RELAY_IN_PROCESS = True
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    task = relay._embedded["task"]
    if task is not None:
        task.cancel()
    relay._embedded["task"] = None


async def embedded_relay_crash() -> None:
    task = relay._embedded["task"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_embedded_relay_restarted_after_a_crash_delivers_what_was_recorded_meanwhile_once(embedded_runtime):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    [history] = await candles_closed(1)
    relay.embedded_relay_ensure_started()  # what the first websocket connect does
    await cursor_reaches(history)
    before = await candles_closed(2, 3)
    assert await delivered(layer, channel, 2) == before
    await cursor_reaches(before[-1])
    await embedded_relay_crash()

    while_down = await candles_closed(4, 5)
    relay.embedded_relay_ensure_started()  # the next websocket connect

    assert await delivered(layer, channel, 2) == while_down
    assert await nothing_more(layer, channel)


async def test_a_relay_started_for_the_first_time_begins_at_the_newest_event_and_saves_it():
    await candles_closed(1)
    [newest] = await candles_closed(2)

    cursor = await relay.relay_start_cursor()

    assert cursor.last_id == newest
    assert await database_sync_to_async(cursor_position)(name=CURSOR_NAME) == newest
