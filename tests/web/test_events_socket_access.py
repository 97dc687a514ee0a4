"""/ws/events/ gives each user the topics of the accounts it is a member of (superusers: all)
and market data; any other topic is refused with a message, live and on resync."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group

from apps.exchanges.models import AccountMembership
from apps.trading.services.placement import signal_execute
from apps.web.relay import relay_pass, relay_start_cursor
from tests.trading.factories import (
    account_make,
    fresh_market,
    signal_make,
    strategy_make,
)
from tradedesk.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]
ORIGIN = (b"origin", b"http://127.0.0.1")
CANDLES = "candles.BTC-USDT.1m"


@pytest.fixture(autouse=True)
def no_embedded_relay(settings):
    """These tests run relay passes themselves, one at a time."""
    settings.RELAY_IN_PROCESS = False


@pytest.fixture
def desk(db):
    """Two paper accounts trading BTC/USDT, each with a running strategy."""
    market = fresh_market()
    ours, theirs = account_make(name="ours"), account_make(name="theirs")
    return {
        "market": market,
        "ours": ours,
        "theirs": theirs,
        "strategies": {account.pk: strategy_make(account=account, markets=[market]) for account in (ours, theirs)},
    }


def user_with_cookie(client, django_user_model, username: str, *, member_of=(), superuser: bool = False) -> bytes:
    user = django_user_model.objects.create_user(username=username, password="correct-horse-battery", is_superuser=superuser)
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    for account in member_of:
        AccountMembership.objects.create(account=account, user=user)
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def viewer(client, django_user_model, desk) -> bytes:
    return user_with_cookie(client, django_user_model, "viewer", member_of=[desk["ours"]])


@pytest.fixture
def stranger(client, django_user_model, desk) -> bytes:
    return user_with_cookie(client, django_user_model, "stranger", member_of=[desk["theirs"]])


@pytest.fixture
def superuser(client, django_user_model, desk) -> bytes:
    return user_with_cookie(client, django_user_model, "root", superuser=True)


@database_sync_to_async
def order_placed(desk, account) -> None:
    """A buy signal of the account's strategy, placed and filled on paper (order, fill, position events)."""
    signal = signal_make(strategy=desk["strategies"][account.pk], market=desk["market"])
    signal_execute(signal_id=signal.pk)


async def socket_subscribed(cookie: bytes, topics: list[str], since=None) -> tuple[WebsocketCommunicator, list[dict]]:
    """A connected socket after its subscription: every message up to the "subscribed" ack."""
    return await path_subscribed("/ws/events/", topics, headers=[(b"cookie", cookie)], since=since)


async def path_subscribed(path: str, topics: list[str], *, headers=(), since=None) -> tuple[WebsocketCommunicator, list[dict]]:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"subscribe": topics, "since": since})
    replies = [await communicator.receive_json_from()]
    while replies[-1].get("type") != "subscribed":
        replies.append(await communicator.receive_json_from())
    return communicator, replies


async def everything_sent(communicator) -> list[dict]:
    received = []
    while not await communicator.receive_nothing(timeout=0.3):
        received.append(await communicator.receive_json_from())
    return received


def orders(account) -> str:
    return f"orders.{account.pk}"


async def test_a_viewer_member_receives_its_accounts_order_events(viewer, desk):
    cursor = await relay_start_cursor()
    socket, [ack] = await socket_subscribed(viewer, [orders(desk["ours"])])

    await order_placed(desk, desk["ours"])
    await relay_pass(get_channel_layer(), cursor)
    received = await everything_sent(socket)

    assert ack["topics"] == [orders(desk["ours"])]
    assert {m["topic"] for m in received} == {orders(desk["ours"])}
    assert {"order.created", "order.filled", "fill.applied"} <= {m["kind"] for m in received}
    await socket.disconnect()


async def test_a_non_member_is_told_why_its_topic_is_refused_and_gets_the_allowed_ones(stranger, desk):
    ours = desk["ours"]

    socket, replies = await socket_subscribed(stranger, [orders(ours), f"positions.{ours.pk}", CANDLES])

    assert replies == [
        {"type": "error", "message": f"You are not a member of account {ours.pk}; topic orders.{ours.pk} refused."},
        {"type": "error", "message": f"You are not a member of account {ours.pk}; topic positions.{ours.pk} refused."},
        {"type": "subscribed", "topics": [CANDLES], "resynced": 0, "resync_truncated": False, "last_id": replies[-1]["last_id"]},
    ]
    await socket.disconnect()


async def test_a_non_member_receives_nothing_of_that_account_live(stranger, desk):
    cursor = await relay_start_cursor()
    socket, _ = await socket_subscribed(stranger, [orders(desk["ours"]), f"positions.{desk['ours'].pk}"])

    await order_placed(desk, desk["ours"])
    await relay_pass(get_channel_layer(), cursor)

    assert await everything_sent(socket) == []
    await socket.disconnect()


async def test_a_non_member_receives_nothing_of_that_account_on_resync(stranger, desk):
    await order_placed(desk, desk["ours"])
    await order_placed(desk, desk["theirs"])

    socket, replies = await socket_subscribed(stranger, [orders(desk["ours"]), orders(desk["theirs"])], since=0)

    resent = [reply for reply in replies if "id" in reply]
    assert resent and {m["topic"] for m in resent} == {orders(desk["theirs"])}
    assert replies[-1]["resynced"] == len(resent)
    await socket.disconnect()


async def test_a_superuser_sees_every_accounts_events(superuser, desk):
    cursor = await relay_start_cursor()
    topics = [orders(desk["ours"]), orders(desk["theirs"])]
    socket, [ack] = await socket_subscribed(superuser, topics)

    await order_placed(desk, desk["ours"])
    await order_placed(desk, desk["theirs"])
    await relay_pass(get_channel_layer(), cursor)

    assert ack["topics"] == topics
    assert {m["topic"] for m in await everything_sent(socket)} == set(topics)
    await socket.disconnect()


async def test_a_topic_of_no_known_shape_is_refused_with_the_shapes_a_topic_may_have(viewer):
    socket, replies = await socket_subscribed(viewer, ["orders.all", CANDLES])

    assert replies[0]["type"] == "error"
    assert replies[0]["message"].startswith(
        "Unknown topic 'orders.all'; topics look like candles.<market>.<tf>, orders.<account>"
    )
    assert replies[1]["topics"] == [CANDLES]
    await socket.disconnect()
