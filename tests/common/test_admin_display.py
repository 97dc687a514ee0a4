from decimal import Decimal

import pytest

from apps.common.admin_display import decimal_trimmed
from tests.markets.factories import candle_rows, collector_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.024575400000"), "0.0245754"),
        (Decimal("4060.780000000000"), "4060.78"),
        (Decimal("100.000"), "100"),
        (Decimal("-0.099895188000"), "-0.099895188"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("0"), "0"),
    ],
)
def test_decimals_are_shown_without_storage_zeros(value, shown):
    assert decimal_trimmed(value) == shown


def test_the_candle_list_shows_prices_as_a_trader_reads_them(admin_client):
    from apps.markets.services import candles_store

    candles_store(collector=collector_make(), rows=candle_rows(count=1))

    page = admin_client.get("/admin/markets/candle/").content.decode()

    assert "60000.1<" in page and "12.345678<" in page
    assert "60000.100000000000" not in page


def test_a_risk_refusal_names_its_limits_as_a_trader_reads_them():
    from apps.engine.risk_rules import (
        DeskState,
        Limits,
        Proposal,
        rule_max_order_notional,
        rule_price_deviation,
    )

    limits = Limits(max_order_notional=Decimal("150.000000000000"), max_price_deviation_pct=Decimal("0.5000"))
    proposal = Proposal(reduces=False, notional=Decimal("200"), price=Decimal("65995.170000000000"))
    state = DeskState(last_price=Decimal("60000.000000000000"))
    assert rule_max_order_notional(proposal, state, limits).detail == "order value 200.00 exceeds max order notional 150"
    assert rule_price_deviation(proposal, state, limits).detail == (
        "order price 65995.17 is 9.992% from last price 60000 (max 0.5%)"
    )


def test_a_form_starts_with_the_stored_value_as_a_trader_reads_it(admin_client):
    from apps.risk.models import RiskLimits
    from tests.trading.factories import account_make

    limits = RiskLimits.objects.create(
        account=account_make(), max_order_notional=Decimal("150"), max_position_pct=Decimal("12.5")
    )
    page = admin_client.get(f"/admin/risk/risklimits/{limits.pk}/change/").content.decode()
    assert 'value="150"' in page and 'value="12.5"' in page
    assert "150.000000000000" not in page and "12.5000" not in page


def test_the_markets_page_shows_the_last_price_on_the_markets_tick(admin_client):
    from apps.markets.services import candles_store

    collector = collector_make()
    collector.market.price_precision = Decimal("0.01")
    collector.market.save()
    candles_store(collector=collector, rows=candle_rows(count=1))
    page = admin_client.get("/").content.decode()
    assert ">60001.10<" in page and "60001.100000000000" not in page


def test_the_strategy_list_shows_the_allocation_without_storage_zeros(admin_client):
    from tests.trading.factories import account_make, fresh_market, strategy_make

    strategy_make(account=account_make(), markets=[fresh_market()], allocation=Decimal("150"))
    page = admin_client.get("/admin/strategies/strategy/").content.decode()
    assert "150 quote" in page and "150.000000000000" not in page


def test_last_prices_and_order_events_read_as_what_they_are():
    from django.utils import timezone

    from apps.trading.models import LastPrice, Order, OrderEvent
    from tests.trading.factories import account_make, fresh_market

    market = fresh_market(price=Decimal("65995.17"))
    price = LastPrice.objects.get(market=market)
    assert str(price).startswith("BTC/USDT 65995.17 at ")
    order = Order.objects.create(
        account=account_make(), market=market, client_order_id="cid-1", side="buy", type="market", amount=Decimal("0.001")
    )
    event = OrderEvent.objects.create(order=order, to_status="new", cause="placed by a signal", created_at=timezone.now())
    assert str(event) == "cid-1: new -> new (placed by a signal)"
    assert str(order) == "cid-1 buy 0.001 BTC/USDT new"
