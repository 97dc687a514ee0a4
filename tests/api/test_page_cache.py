"""A page of orders comes from the cache only while it is exactly what the database holds: every
kind of write (a save, a queryset's update(), bulk writes, a delete, an event, a signal or
market change, another process's SQL) shows at the very next request; a write rolled back never
reaches anybody; a user never gets a page made for accounts they do not see; and who may ask is
checked on every request, cached page or not. Real commits (transaction=True): the versions are
bumped by PostgreSQL triggers as a transaction commits."""

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.api import selectors
from apps.api.tokens import api_token_revoke
from apps.exchanges.models import AccountMembership
from apps.markets.models import Market
from apps.trading.models import Fill, Order, OrderEvent, Signal
from tests.access import desk_user

from .conftest import client_with, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]  # the versions' triggers are PostgreSQL's

URL = "/api/v1/orders/?page_size=100"


def answered(client, url: str = URL, **headers):
    """The response, and whether it came from the cache (no order was read to make it)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    read_orders = any('FROM "trading_order"' in query["sql"] for query in queries)
    return response, not read_orders


def orders_seen(client, url: str = URL) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return {order["id"]: order for order in response.json()["results"]}


def cached(client, url: str = URL) -> dict:
    """Asks twice; the second answer comes from the cache. The orders it shows."""
    first = orders_seen(client, url)
    response, from_cache = answered(client, url)
    assert from_cache
    assert {order["id"]: order for order in response.json()["results"]} == first
    return first


def test_the_same_request_again_gets_the_same_bytes_from_the_cache_without_reading_an_order(desk, trader):
    made = trader.get(URL)

    again, from_cache = answered(trader, URL)

    assert from_cache
    assert again.status_code == 200
    assert again.content == made.content
    for header in ("Content-Type", "ETag", "Vary", "Allow"):
        assert again.headers.get(header) == made.headers.get(header), header
    assert made.headers["ETag"]


def test_a_page_from_the_cache_reads_the_token_and_the_versions_only(desk, trader):
    trader.get(URL)

    with CaptureQueriesContext(connection) as queries:
        assert trader.get(URL).status_code == 200

    token, versions = (query["sql"] for query in queries)  # exactly two
    assert 'FROM "api_apitoken"' in token
    assert "api_orders_version" in versions and "trading_order" not in versions


def test_a_page_made_without_the_cache_is_byte_for_byte_the_cached_one(desk, trader, settings):
    from_cache = trader.get(URL).content
    settings.API_PAGE_CACHE = False

    made, was_cached = answered(trader, URL)

    assert not was_cached
    assert made.content == from_cache


def _order(desk, client_order_id: str, **fields) -> Order:
    return Order(
        account=desk.ours.account,
        market=desk.ours.order.market,
        strategy=desk.ours.strategy,
        client_order_id=client_order_id,
        side="sell",
        amount=Decimal("2"),
        **fields,
    )


def _status_of_ours(desk, seen) -> str:
    return seen[desk.ours.order.pk]["status"]


def save(desk):
    order = Order.objects.get(pk=desk.ours.order.pk)
    order.status = "canceled"
    order.save()
    return lambda seen: _status_of_ours(desk, seen) == "canceled"


def queryset_update(desk):
    Order.objects.filter(account=desk.ours.account).update(status="canceled", reason="stopped by update()")
    return lambda seen: seen[desk.ours.order.pk]["reason"] == "stopped by update()"


def create(desk):
    order = Order.objects.create(
        account=desk.ours.account, market=desk.ours.order.market, client_order_id="new-1", side="buy", amount=1
    )
    return lambda seen: order.pk in seen


def bulk_create(desk):
    made = Order.objects.bulk_create([_order(desk, "bulk-1"), _order(desk, "bulk-2")])
    return lambda seen: {order.pk for order in made} <= set(seen)


def bulk_update(desk):
    order = Order.objects.get(pk=desk.ours.order.pk)
    order.reason = "changed by bulk_update"
    Order.objects.bulk_update([order], ["reason"])
    return lambda seen: seen[desk.ours.order.pk]["reason"] == "changed by bulk_update"


def delete(desk):
    Order.objects.filter(pk=desk.ours.order.pk).delete()
    return lambda seen: desk.ours.order.pk not in seen


def event_added(desk):
    OrderEvent.objects.create(order=desk.ours.order, from_status="new", to_status="submitting", cause="sent")
    return lambda seen: [event["to_status"] for event in seen[desk.ours.order.pk]["events"]] == ["submitting"]


def market_renamed(desk):
    Market.objects.filter(pk=desk.ours.order.market_id).update(symbol="RENAMED/USDT")
    return lambda seen: seen[desk.ours.order.pk]["symbol"] == "RENAMED/USDT"


def in_another_process(desk):
    """Raw SQL on a connection of its own, as a Celery worker's would be."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    ) as other:
        other.execute("UPDATE trading_order SET reason = 'from another process' WHERE id = %s", (desk.ours.order.pk,))
    return lambda seen: seen[desk.ours.order.pk]["reason"] == "from another process"


@pytest.mark.parametrize(
    "write",
    [save, queryset_update, create, bulk_create, bulk_update, delete, event_added, market_renamed, in_another_process],
    ids=lambda write: write.__name__,
)
def test_every_kind_of_order_write_shows_at_the_next_request(desk, trader, write):
    before = cached(trader)

    shows = write(desk)

    after = orders_seen(trader)
    assert after != before
    assert shows(after)


def test_a_signal_repriced_shows_in_its_orders_signal_price(desk, trader):
    Order.objects.filter(pk=desk.ours.order.pk).update(signal=desk.ours.signal)
    assert cached(trader)[desk.ours.order.pk]["signal_price"] == "100.000000000000"

    Signal.objects.filter(pk=desk.ours.signal.pk).update(price=Decimal("101.5"))

    assert orders_seen(trader)[desk.ours.order.pk]["signal_price"] == "101.500000000000"


def test_a_fill_or_an_event_changes_the_version_of_its_orders_account(desk, trader_user):
    first = selectors.api_orders_version(user=trader_user)
    Fill.objects.create(
        order=desk.ours.order, venue_trade_id="t1", price=Decimal("100"), amount=Decimal("0.1"), traded_at=timezone.now()
    )
    second = selectors.api_orders_version(user=trader_user)
    OrderEvent.objects.create(order=desk.ours.order, from_status="new", to_status="open", cause="ack")
    third = selectors.api_orders_version(user=trader_user)

    assert len({first, second, third}) == 3


def test_a_write_to_another_account_leaves_the_page_cached(desk, trader):
    cached(trader)

    Order.objects.filter(pk=desk.theirs.order.pk).update(reason="theirs only")

    assert answered(trader)[1]


def test_a_write_rolled_back_is_never_served_and_never_cached(desk, trader):
    cached(trader)

    with pytest.raises(RuntimeError), transaction.atomic():
        order = Order.objects.create(
            account=desk.ours.account, market=desk.ours.order.market, client_order_id="gone", side="buy", amount=1
        )
        inside, from_cache = answered(trader)  # inside the transaction: made, not cached
        assert not from_cache and order.pk in {row["id"] for row in inside.json()["results"]}
        raise RuntimeError("roll back")

    assert order.pk not in cached(trader)


def test_a_user_of_other_accounts_never_gets_the_page_cached_for_the_same_address(desk, trader):
    ours = cached(trader)
    other = client_with(token_for(desk_user("olga", role="trader", accounts=[desk.theirs.account]), "trade"))

    theirs = orders_seen(other)
    asked_for_ours = other.get(f"{URL}&account={desk.ours.account.pk}")

    assert set(ours) == {desk.ours.order.pk}
    assert set(theirs) == {desk.theirs.order.pk}
    assert asked_for_ours.status_code in (200, 400)
    assert asked_for_ours.status_code == 400 or asked_for_ours.json()["results"] == []


def test_a_membership_ended_takes_the_accounts_orders_out_of_the_next_page(desk, trader, trader_user):
    assert set(cached(trader)) == {desk.ours.order.pk}

    AccountMembership.objects.filter(user=trader_user).delete()

    assert orders_seen(trader) == {}


def test_a_revoked_token_is_refused_although_its_page_is_cached(desk, trader_user):
    client = client_with(token_for(trader_user, "read"))
    cached(client)
    token = trader_user.api_tokens.get()

    api_token_revoke(actor=None, token_id=token.pk, via="command")

    assert client.get(URL).status_code == 401


def test_a_disabled_user_and_an_expired_token_are_refused_although_the_page_is_cached(desk, trader_user, trader):
    cached(trader)
    token = trader_user.api_tokens.get()
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save()
    assert trader.get(URL).status_code == 401

    token.expires_at = None
    token.save()
    assert trader.get(URL).status_code == 200
    trader_user.is_active = False
    trader_user.save()
    assert trader.get(URL).status_code == 401


def test_if_none_match_gets_304_until_the_orders_change(desk, trader):
    etag = trader.get(URL).headers["ETag"]

    unchanged = trader.get(URL, HTTP_IF_NONE_MATCH=etag)
    Order.objects.filter(pk=desk.ours.order.pk).update(reason="news")
    changed = trader.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert unchanged.status_code == 304 and unchanged.content == b""
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["results"][0]["reason"] == "news"


def test_the_cursor_links_name_the_host_that_was_asked(desk, trader, settings):
    settings.ALLOWED_HOSTS = ["testserver", "desk.example"]
    Order.objects.bulk_create([_order(desk, "more-1"), _order(desk, "more-2")])
    url = "/api/v1/orders/?page_size=1"
    assert trader.get(url).json()["next"].startswith("http://testserver/")

    elsewhere = trader.get(url, HTTP_HOST="desk.example").json()

    assert elsewhere["next"].startswith("http://desk.example/")


def test_the_versions_name_exactly_the_accounts_the_user_sees(desk, trader_user):
    from apps.exchanges.selectors import accounts_visible_to

    root = User.objects.create_superuser("root", password="x" * 20)
    nobody = desk_user("nina", role="viewer", accounts=[])
    both = desk_user("bob", role="viewer", accounts=[desk.ours.account, desk.theirs.account])

    for user in (trader_user, root, nobody, both):
        state = selectors.api_orders_version(user=user)
        named = sorted(int(part.split(":")[0]) for part in state.split() if ":" in part)
        assert named == sorted(accounts_visible_to(user=user).values_list("pk", flat=True)), user
    assert selectors.api_orders_version(user=trader_user) != selectors.api_orders_version(user=both)
