"""An integration's socket: /ws/events/ with an API token (`?token=` or a Bearer header) sees
what its user sees on the pages: its accounts' topics live and on resync, never another's; a
token revoked or expired while its socket is open closes the socket (4401, the reason in words)."""

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import api_token_create, api_token_revoke
from apps.web import consumers
from apps.web.relay import relay_pass, relay_start_cursor
from tests.access import desk_user
from tests.web.test_events_socket_access import ORIGIN, everything_sent, order_placed, orders
from tests.web.test_events_socket_access import desk as desk  # noqa: F401  (the fixture: two accounts, a strategy each)
from tests.web.test_events_socket_access import path_subscribed as subscribed
from tradedesk.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture(autouse=True)
def no_embedded_relay(settings):
    settings.RELAY_IN_PROCESS = False


@pytest.fixture
def bot_key(desk):
    """A read token of a viewer of account "ours"."""
    user = desk_user("bot", role="viewer", accounts=[desk["ours"]])
    return api_token_create(actor=None, user=user, name="grafana", scope="read", via="command").key


async def test_a_token_in_the_query_receives_its_accounts_order_events_and_not_anothers(desk, bot_key):
    ours, theirs = desk["ours"], desk["theirs"]
    cursor = await relay_start_cursor()
    socket, replies = await subscribed(f"/ws/events/?token={bot_key}", [orders(ours), orders(theirs)])

    await order_placed(desk, ours)
    await order_placed(desk, theirs)
    await relay_pass(get_channel_layer(), cursor)
    received = await everything_sent(socket)

    assert replies[0] == {
        "type": "error",
        "message": f"You are not a member of account {theirs.pk}; topic {orders(theirs)} refused.",
    }
    assert replies[-1]["topics"] == [orders(ours)]
    assert {"order.created", "order.filled"} <= {m["kind"] for m in received}
    assert {m["topic"] for m in received} == {orders(ours)}
    await socket.disconnect()


async def test_a_bearer_header_resyncs_only_its_accounts_events(desk, bot_key):
    await order_placed(desk, desk["ours"])
    await order_placed(desk, desk["theirs"])

    socket, replies = await subscribed(
        "/ws/events/",
        [orders(desk["ours"]), orders(desk["theirs"])],
        headers=[(b"authorization", f"Bearer {bot_key}".encode())],
        since=0,
    )

    resent = [reply for reply in replies if "id" in reply]
    assert resent and {m["topic"] for m in resent} == {orders(desk["ours"])}
    await socket.disconnect()


@pytest.mark.parametrize("key", ["revoked", "td_nope_nope", ""])
async def test_a_bad_token_closes_the_socket_as_unauthenticated_even_with_a_session(desk, bot_key, client, key):
    if key == "revoked":
        token = await database_sync_to_async(ApiToken.objects.get)(name="grafana")
        await database_sync_to_async(api_token_revoke)(actor=None, token_id=token.pk)
        key = bot_key
    user = await database_sync_to_async(desk_user)("pat", role="viewer", accounts=[desk["ours"]])
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    communicator = WebsocketCommunicator(application, f"/ws/events/?token={key}", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()

    assert connected
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


async def _orders_socket(desk, key: str):
    """A token's socket on the orders of "ours", and the relay's cursor before anything happens."""
    cursor = await relay_start_cursor()
    socket, replies = await subscribed(f"/ws/events/?token={key}", [orders(desk["ours"])])
    assert replies[-1]["topics"] == [orders(desk["ours"])]
    return socket, cursor


async def _order_then_close(desk, socket, cursor) -> tuple[list[dict], dict]:
    """An order on "ours" relayed: what the socket sent of it before its close frame, and the frame."""
    await order_placed(desk, desk["ours"])
    await relay_pass(get_channel_layer(), cursor)
    received = []
    while True:
        message = await socket.receive_output(timeout=2)
        if message["type"] == "websocket.close":
            return received, message
        received.append(json.loads(message["text"]))


async def test_a_token_revoked_while_its_socket_is_open_closes_it_before_another_event(desk, bot_key, monkeypatch):
    """(The first test of this file shows the same order's events reaching a token's socket.)"""
    monkeypatch.setattr(consumers, "CREDENTIAL_RECHECK_SECONDS", 0.2)
    socket, cursor = await _orders_socket(desk, bot_key)

    token = await database_sync_to_async(ApiToken.objects.get)(name="grafana")
    await database_sync_to_async(api_token_revoke)(actor=None, token_id=token.pk)
    await asyncio.sleep(0.3)
    received, closed = await _order_then_close(desk, socket, cursor)

    assert received == []
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "API token revoked"}


async def test_a_token_expiring_while_its_socket_is_open_closes_it_at_its_next_event(desk, monkeypatch):
    """Within the recheck period too: the expiry the socket knows has passed."""
    monkeypatch.setattr(consumers, "CREDENTIAL_RECHECK_SECONDS", 3600)
    socket, cursor = await _orders_socket(desk, await database_sync_to_async(_short_lived_key)(desk))

    await asyncio.sleep(1.6)
    received, closed = await _order_then_close(desk, socket, cursor)

    assert received == []
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "API token expired"}


async def test_a_ping_after_the_revocation_is_answered_by_the_close(desk, bot_key, monkeypatch):
    monkeypatch.setattr(consumers, "CREDENTIAL_RECHECK_SECONDS", 0)
    socket, _ = await subscribed(f"/ws/events/?token={bot_key}", [orders(desk["ours"])])
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}

    token = await database_sync_to_async(ApiToken.objects.get)(name="grafana")
    await database_sync_to_async(api_token_revoke)(actor=None, token_id=token.pk)
    await socket.send_json_to({"type": "ping"})

    assert await socket.receive_output() == {"type": "websocket.close", "code": 4401, "reason": "API token revoked"}


def _short_lived_key(desk) -> str:
    """A read token of a viewer of "ours" that expires 1.5 s from now."""
    user = desk_user("brief", role="viewer", accounts=[desk["ours"]])
    made = api_token_create(actor=None, user=user, name="brief", scope="read", expires_days=1, via="command")
    ApiToken.objects.filter(pk=made.token.pk).update(expires_at=timezone.now() + timedelta(seconds=1.5))
    return made.key
