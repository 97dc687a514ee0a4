"""Reading through the API: a token sees its user's accounts only, an object of another account is
a 404 (never a 403 that would confirm it exists), money is an exact string and times are UTC."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.api.tokens import api_token_create
from apps.trading.models import Position
from tests.access import desk_user
from tests.trading.factories import fresh_market

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db

LISTS = [
    "accounts",
    "markets",
    "strategies",
    "signals",
    "orders",
    "fills",
    "positions",
    "risk-limits",
    "risk-events",
    "kill-switches",
    "portfolio-snapshots",
]


def test_a_viewer_token_lists_only_its_own_accounts_with_equity_and_kill_switch(desk, viewer):
    response = viewer.get("/api/v1/accounts/")

    assert response.status_code == 200
    [account] = response.json()["results"]
    assert account["name"] == "ours"
    assert account["equity"] == "12345.670000000000" and account["kill_switch"] == "active"
    assert "api_key" not in account and "api_secret" not in account
    assert {balance["asset"] for balance in account["balances"]} == {"USDT"}


@pytest.mark.parametrize("resource", LISTS)
def test_no_list_shows_a_row_of_another_account(desk, viewer, resource):
    response = viewer.get(f"/api/v1/{resource}/")

    assert response.status_code == 200, response.content
    text = response.content.decode()
    theirs = desk.theirs
    for row in response.json()["results"]:
        assert row.get("account") in (None, desk.ours.account.pk), row
    assert "98765.43" not in text and "theirs: over the daily loss" not in text
    if resource == "orders":
        assert [row["client_order_id"] for row in response.json()["results"]] == ["ours-order-1"]
        assert theirs.order.client_order_id not in text


@pytest.mark.parametrize(
    "resource,obj",
    [
        ("orders", "order"),
        ("positions", "position"),
        ("strategies", "strategy"),
        ("signals", "signal"),
        ("accounts", "account"),
        ("risk-events", "risk_event"),
        ("kill-switches", "kill_switch"),
        ("risk-limits", "limits"),
    ],
)
def test_another_accounts_object_is_not_found(desk, viewer, resource, obj):
    theirs = getattr(desk.theirs, obj)

    response = viewer.get(f"/api/v1/{resource}/{theirs.pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert viewer.get(f"/api/v1/{resource}/{getattr(desk.ours, obj).pk}/").status_code == 200


def test_an_order_reads_as_exact_decimal_strings_and_utc_times(desk, viewer):
    order = viewer.get(f"/api/v1/orders/{desk.ours.order.pk}/").json()

    assert order["amount"] == "0.500000000000" and Decimal(order["price"]) == Decimal("100")
    assert order["created_at"].endswith("Z")
    assert order["symbol"] == "BTC/USDT" and isinstance(order["events"], list)


def test_the_strategy_kinds_come_with_their_param_schemas(desk, viewer):
    kinds = {kind["name"]: kind for kind in viewer.get("/api/v1/strategy-kinds/").json()}

    assert "ema_cross" in kinds and kinds["ema_cross"]["params"]
    assert viewer.get("/api/v1/strategy-kinds/ema_cross/").json()["name"] == "ema_cross"
    assert viewer.get("/api/v1/strategy-kinds/nope/").json()["error"]["code"] == "not_found"


def test_candles_are_read_by_market_and_timeframe_up_to_five_thousand_a_page(desk, viewer):
    market = desk.ours.order.market

    response = viewer.get("/api/v1/candles/", {"market": market.pk, "timeframe": "1m", "page_size": 5000})

    assert response.status_code == 200
    [candle] = response.json()["results"]
    assert candle["close"] == "100.000000000000"
    missing = viewer.get("/api/v1/candles/")
    assert missing.status_code == 400 and set(missing.json()["error"]["fields"]) == {"market", "timeframe"}


def test_the_audit_trail_is_for_admins_only(desk, viewer):
    assert viewer.get("/api/v1/audit-entries/").status_code == 403
    admin = desk_user("ada", role="admin", accounts=[desk.ours.account])
    assert client_with(token_for(admin, "admin")).get("/api/v1/audit-entries/").status_code == 200
    # the token's scope caps the user's role: an admin's read token is a reader
    assert client_with(token_for(admin, "read")).get("/api/v1/audit-entries/").status_code == 403


def test_a_user_with_no_account_sees_nothing(desk):
    loner = client_with(token_for(desk_user("lou", role="trader"), "trade"))

    assert loner.get("/api/v1/orders/").json()["results"] == []
    assert loner.get(f"/api/v1/orders/{desk.ours.order.pk}/").status_code == 404


def test_without_a_key_or_with_a_revoked_or_wrong_one_the_answer_is_401(desk):
    from apps.api.tokens import api_token_revoke

    user = desk_user("rita", role="viewer", accounts=[desk.ours.account])
    made = api_token_create(actor=None, user=user, name="old", scope="read", via="command")
    assert client_with(made.key).get("/api/v1/orders/").status_code == 200
    api_token_revoke(actor=None, token_id=made.token.pk, via="command")

    for client in (client_with(made.key), client_with(made.key[:-1] + "x"), client_with("nonsense")):
        response = client.get("/api/v1/orders/")
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    assert APIClient().get("/api/v1/orders/").status_code == 401


def test_the_positions_list_says_how_each_position_came_to_be_and_filters_on_it(desk, viewer):
    bought_outside = Position.objects.create(
        account=desk.ours.account,
        market=fresh_market(symbol="ETH/USDT"),
        origin=Position.Origin.EXTERNAL,
        amount=Decimal("0.2"),
        average_entry=Decimal("101"),
    )

    rows = {row["id"]: row["origin"] for row in viewer.get("/api/v1/positions/").json()["results"]}
    external = viewer.get("/api/v1/positions/?origin=external").json()["results"]

    assert rows == {desk.ours.position.pk: "desk", bought_outside.pk: "external"}
    assert [row["id"] for row in external] == [bought_outside.pk]
    assert viewer.get(f"/api/v1/positions/{bought_outside.pk}/").json()["origin"] == "external"
