"""A list costs the same number of queries whatever the page size (no query per row)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.trading.models import Fill, Order, OrderEvent, Signal

pytestmark = pytest.mark.django_db


def orders_make(desk, n: int) -> None:
    ours = desk.ours
    for i in range(n):
        signal = Signal.objects.create(
            strategy=ours.strategy,
            account=ours.account,
            market=ours.order.market,
            candle_time=timezone.now(),
            side="buy",
            intent="open",
            price=Decimal("100"),
            key=f"qc-{i}",
        )
        order = Order.objects.create(
            account=ours.account,
            market=ours.order.market,
            strategy=ours.strategy,
            signal=signal,
            client_order_id=f"qc-{i}",
            side="buy",
            amount=Decimal("1"),
            filled=Decimal("1"),
            average_price=Decimal("100.5"),
            status="filled",
        )
        OrderEvent.objects.create(order=order, from_status="submitting", to_status="filled", cause="test")
        Fill.objects.create(
            order=order, venue_trade_id=f"t{i}", price=Decimal("100.5"), amount=Decimal("1"), traded_at=timezone.now()
        )


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("resource", ["orders", "signals", "fills", "positions", "accounts", "strategies"])
def test_a_page_of_100_costs_no_more_queries_than_a_page_of_5(desk, viewer, resource, django_assert_max_num_queries):
    orders_make(desk, 30)
    small = queries_for(viewer, f"/api/v1/{resource}/?page_size=5")

    with django_assert_max_num_queries(small):
        response = viewer.get(f"/api/v1/{resource}/?page_size=100")

    assert response.status_code == 200


def test_an_order_shows_its_slippage_against_the_signal_and_its_events(desk, viewer):
    orders_make(desk, 1)

    [order] = viewer.get("/api/v1/orders/", {"client_order_id": "qc-0"}).json()["results"]

    assert order["signal_price"] == "100.000000000000" and order["slippage_bps"] == "50.0000"
    assert [event["to_status"] for event in order["events"]] == ["filled"]
    assert order["latency_ms"] is not None and order["latency_ms"] >= 0
