"""Bad input in the admin gets a clear message and saves nothing."""

import pytest
from django.db import connection

from apps.exchanges.admin import ExchangeAccountForm
from apps.exchanges.models import ExchangeAccount
from apps.markets.admin import CollectorStatusForm, MarketForm
from apps.markets.models import CollectorStatus, Market
from tests.markets.factories import exchange_make, market_make
from tests.simulated_exchange import TEST_API_KEY, TEST_SECRET

pytestmark = pytest.mark.django_db


def test_a_market_the_exchange_does_not_trade_is_refused_with_what_it_offers(sim):
    form = MarketForm(data={"exchange": exchange_make(api_url=sim.url).pk, "symbol": "DOGE/USDT", "active": True})

    assert not form.is_valid()
    assert form.errors["symbol"] == ["DOGE/USDT is not traded on Simulated exchange. It offers: BTC/USDT, ETH/USDT, SOL/USDT"]
    assert Market.objects.count() == 0


def test_a_known_market_copies_precision_and_minimums_from_the_exchange(sim):
    form = MarketForm(data={"exchange": exchange_make(api_url=sim.url).pk, "symbol": "eth/usdt", "active": True})

    assert form.is_valid(), form.errors
    market = form.save()

    assert (market.symbol, market.base, market.quote) == ("ETH/USDT", "ETH", "USDT")
    assert market.price_precision > 0 and market.amount_precision > 0 and market.min_notional > 0


def test_an_unreachable_exchange_is_a_form_error_not_a_500():
    form = MarketForm(data={"exchange": exchange_make(api_url="http://127.0.0.1:9").pk, "symbol": "BTC/USDT", "active": True})

    assert not form.is_valid()
    assert "Could not check BTC/USDT" in form.non_field_errors()[0]


def test_a_timeframe_the_exchange_does_not_offer_is_refused():
    market = market_make()
    form = CollectorStatusForm(data={"market": market.pk, "timeframe": "2m", "active": True})

    assert not form.is_valid()
    assert "timeframe" in form.errors
    assert CollectorStatus.objects.count() == 0


def test_wrong_api_keys_are_refused_before_they_are_saved(sim):
    exchange = exchange_make(api_url=sim.url)
    form = ExchangeAccountForm(
        data={
            "name": "main",
            "exchange": exchange.pk,
            "mode": "sim",
            "api_key": TEST_API_KEY,
            "api_secret": "not-the-secret",
            "active": True,
        }
    )

    assert not form.is_valid()
    assert form.non_field_errors()[0].startswith("The exchange refused these API keys")
    assert ExchangeAccount.objects.count() == 0


def test_right_api_keys_are_saved_encrypted_and_kept_when_left_blank_on_edit(sim):
    exchange = exchange_make(api_url=sim.url)
    data = {
        "name": "main",
        "exchange": exchange.pk,
        "mode": "sim",
        "api_key": TEST_API_KEY,
        "api_secret": TEST_SECRET,
        "active": True,
    }
    account = ExchangeAccountForm(data=data).save()

    edited = ExchangeAccountForm(data={**data, "api_key": "", "api_secret": "", "name": "main-renamed"}, instance=account)
    assert edited.is_valid(), edited.errors
    edited.save()

    account.refresh_from_db()
    assert (account.name, account.api_key, account.api_secret) == ("main-renamed", TEST_API_KEY, TEST_SECRET)
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_secret FROM exchanges_exchangeaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert TEST_SECRET not in stored and stored.startswith("gAAAA")  # a Fernet token
