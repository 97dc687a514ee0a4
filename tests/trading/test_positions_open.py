"""One definition of an open position (at least one amount step, worth at least the minimum
notional) in the admin and the metrics: dust is shown as dust."""

from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model

from apps.trading.metrics import TradingMetrics
from apps.trading.models import Position

from .factories import account_make, fresh_market

pytestmark = pytest.mark.django_db


@pytest.fixture
def holdings():
    """Dust in BTC (one step, worth 0.01 USDT), an open position in ETH."""
    account = account_make()
    btc, eth = fresh_market(symbol="BTC/USDT", price=D(100)), fresh_market(symbol="ETH/USDT", price=D(100))
    Position.objects.create(account=account, market=btc, amount=D("0.0001"), average_entry=D(100), last_price=D(100))
    Position.objects.create(account=account, market=eth, amount=D("2"), average_entry=D(100), last_price=D(100))
    return account


@pytest.fixture
def admin_browser(client):
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-1234567"))
    return client


def test_dust_is_listed_as_dust_and_the_open_filter_leaves_it_out(admin_browser, holdings):
    listed = admin_browser.get("/admin/trading/position/").content.decode()

    assert '<td class="field-state">dust</td>' in listed and '<td class="field-state">Long</td>' in listed
    assert listed_symbols(admin_browser, "?state=open") == ["ETH/USDT"]
    assert listed_symbols(admin_browser, "?state=dust") == ["BTC/USDT"]


def listed_symbols(browser, query: str) -> list[str]:
    return [position.market.symbol for position in browser.get(f"/admin/trading/position/{query}").context["cl"].result_list]


def test_the_metrics_count_open_positions_without_dust(holdings):
    families = {family.name: family for family in TradingMetrics().collect()}

    [sample] = families["tradedesk_open_positions"].samples
    assert (sample.labels, sample.value) == ({"account": holdings.name}, 1)
