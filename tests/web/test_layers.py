"""The desk's Redis channel layer (apps/web/layers.py) keeps channels_redis's rules for a group
send: every member of the group gets the message once, in order; a member whose place in the
group has expired gets nothing; a channel holding its capacity of unread messages is skipped
until it reads them, and its expired messages do not count."""

import asyncio
import time
import uuid

import pytest

from apps.web.layers import DeskRedisChannelLayer

pytestmark = pytest.mark.redis


@pytest.fixture
async def layer(redis_url):
    made = DeskRedisChannelLayer(hosts=[{"address": redis_url}], prefix=f"test-layer-{uuid.uuid4().hex[:8]}", capacity=2)
    yield made
    await made.flush()


async def received(layer, channel, count: int = 1) -> list:
    return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]


async def test_every_member_of_the_group_gets_the_message_in_order(layer):
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("candles", first)
    await layer.group_add("candles", second)

    await layer.group_send("candles", {"type": "event.message", "n": 1})
    await layer.group_send("candles", {"type": "event.message", "n": 2})

    assert [m["n"] for m in await received(layer, first, 2)] == [1, 2]
    assert [m["n"] for m in await received(layer, second, 2)] == [1, 2]


async def test_a_member_whose_place_expired_gets_nothing_and_others_still_do(layer):
    stale, fresh = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("candles", stale)
    await layer.group_add("candles", fresh)
    connection = layer.connection(0)  # joined longer ago than group_expiry
    await connection.zadd(layer._group_key("candles"), {stale: time.time() - layer.group_expiry - 10})

    await layer.group_send("candles", {"type": "event.message", "n": 1})

    assert [m["n"] for m in await received(layer, fresh)] == [1]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(stale), 0.5)


async def test_a_full_channel_is_skipped_and_its_expired_messages_do_not_count(layer):
    channel = await layer.new_channel()
    await layer.group_add("candles", channel)
    for n in (1, 2, 3):  # capacity 2: the third finds the channel full
        await layer.group_send("candles", {"type": "event.message", "n": n})
    assert [m["n"] for m in await received(layer, channel, 2)] == [1, 2]

    await layer.group_send("candles", {"type": "event.message", "n": 4})
    await layer.group_send("candles", {"type": "event.message", "n": 5})
    key = layer.prefix + layer.non_local_name(channel)
    connection = layer.connection(0)  # both unread messages older than expiry
    await connection.zadd(key, {member: time.time() - layer.expiry - 10 for member in await connection.zrange(key, 0, -1)})
    await layer.group_send("candles", {"type": "event.message", "n": 6})

    assert [m["n"] for m in await received(layer, channel)] == [6]
