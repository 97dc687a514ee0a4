"""The cockpit pages and the API lists cost the same number of queries with 1 row or many:
no query per market, position, order, strategy or snapshot (the pages stay fast on a full
desk; bench/pages.py and bench/api_load.py time them)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.markets.models import Candle, CollectorStatus, Market
from apps.risk.models import RiskEvent
from apps.trading.models import Fill, Order, OrderEvent, PortfolioSnapshot, Position, Signal
from tests.access import desk_make, desk_user
from tests.api.conftest import client_with, token_for
from tests.trading.factories import strategy_make

pytestmark = pytest.mark.django_db

PAGES = ["/", "/positions/", "/orders/", "/performance/", "/signals/", "/risk/"]
API_LISTS = ["accounts", "markets", "strategies", "signals", "orders", "fills", "positions", "risk-events", "portfolio-snapshots"]


def desk_grown(desk, n: int, *, start: int = 0) -> None:
    """n more of everything on account "ours": markets (collected, with a candle), strategies,
    positions, orders with their signal, event and fill, risk events, hourly snapshots."""
    account, now = desk.ours.account, timezone.now().replace(minute=0, second=0, microsecond=0)
    exchange = desk.ours.order.market.exchange
    for i in range(start, start + n):
        market = Market.objects.create(exchange=exchange, symbol=f"Q{i}/USDT", base=f"Q{i}", quote="USDT")
        Candle.objects.create(market=market, timeframe="1m", open_time=now, open=1, high=1, low=1, close=Decimal(i + 1), volume=1)
        CollectorStatus.objects.create(market=market, timeframe="1m", last_candle_time=now)
        strategy = strategy_make(account=account, markets=[market], name=f"grown {i}")
        Position.objects.create(account=account, market=market, strategy=strategy, amount=Decimal("1"), average_entry=Decimal(10))
        signal = Signal.objects.create(
            strategy=strategy, account=account, market=market, candle_time=now, side="buy", intent="open", price=10, key=f"g{i}"
        )
        order = Order.objects.create(
            account=account,
            market=market,
            strategy=strategy,
            signal=signal,
            client_order_id=f"grown-{i}",
            side="buy",
            amount=1,
            filled=1,
            average_price=10,
            status="filled",
        )
        OrderEvent.objects.create(order=order, from_status="submitting", to_status="filled", cause="test")
        Fill.objects.create(order=order, venue_trade_id=f"g{i}", price=10, amount=1, traded_at=now)
        RiskEvent.objects.create(account=account, strategy=strategy, signal=signal, decision="allowed", reason="ok")
        PortfolioSnapshot.objects.create(
            account=account,
            taken_at=now - timedelta(hours=i + 1),
            equity=1000 + i,
            cash=1000,
            positions_value=i,
            realized_pnl=0,
            unrealized_pnl=0,
        )


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.fixture
def grown(settings):
    """The query counts of every page and list with 1 row of each, then with 15."""
    settings.API_THROTTLE_RATES = {"sustained": "100000/min", "burst": "100000/s", "commands": "100000/min"}
    desk = desk_make()
    trader = desk_user("tom", role="trader", accounts=[desk.ours.account])
    api = client_with(token_for(trader, "trade"))
    from django.test import Client

    page = Client()
    page.force_login(trader)
    counts = {}
    for rows in (1, 15):
        desk_grown(desk, 1 if rows == 1 else rows - 1, start=0 if rows == 1 else 1)
        urls = {url: page for url in PAGES} | {f"/api/v1/{name}/": api for name in API_LISTS}
        for url, client in urls.items():
            queries_of(client, url)  # warm: sessions, caches, content types
            counts.setdefault(url, []).append(queries_of(client, url))
    return counts


def test_no_page_or_api_list_makes_a_query_per_row(grown):
    growing = {url: (small, large) for url, (small, large) in grown.items() if large > small}

    assert growing == {}, f"queries with 1 row vs 15 rows: {growing}"
