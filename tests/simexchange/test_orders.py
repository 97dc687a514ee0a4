"""Orders through the desk's ccxt client: fills, fees, balances, resting limits, cancels, ids."""

from decimal import Decimal

import ccxt
import numpy as np
import pytest

from apps.engine.market_sim import MINUTE_MS
from apps.exchanges.errors import InvalidOrderError, classify


def test_a_market_buy_fills_at_once_and_pays_the_fee_in_the_bought_asset(sim, client):
    expected_price = sim.engine.price_now("BTC/USDT") * Decimal("1.0002")  # 2 bps slippage
    order = client.create_order("BTC/USDT", "market", "buy", 0.01)
    assert order["status"] == "closed" and order["filled"] == 0.01
    assert order["average"] == pytest.approx(float(expected_price), rel=1e-4)
    assert order["fee"] == {"currency": "BTC", "cost": 0.00001}
    balance = client.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.00999)
    assert balance["USDT"]["free"] == pytest.approx(100_000 - order["cost"])


def test_a_market_sell_pays_the_fee_in_the_quote_asset(sim, client):
    client.create_order("ETH/USDT", "market", "buy", 1)
    sell = client.create_order("ETH/USDT", "market", "sell", 0.5)
    assert sell["fee"]["currency"] == "USDT"
    assert sell["fee"]["cost"] == pytest.approx(sell["cost"] * 0.001, abs=1e-8)
    trades = client.fetch_my_trades("ETH/USDT")
    assert [t["side"] for t in trades] == ["buy", "sell"]


def test_a_market_buy_can_spend_a_quote_amount(sim, client):
    order = client.create_order("SOL/USDT", "market", "buy", None, params={"quoteOrderQty": 100})
    assert order["status"] == "closed"
    assert 99 < order["cost"] <= 100


def _first_minute_reaching(sim, symbol, price, after_ms):
    candles = sim.market.candles_1m(symbol, after_ms - after_ms % MINUTE_MS + MINUTE_MS, after_ms + 24 * 3_600_000)
    reached = np.flatnonzero(candles.low <= price)
    return int(candles.time[reached[0]])


def test_a_limit_buy_rests_then_fills_at_its_price_when_the_market_comes_down(sim, client):
    now = sim.clock.now_ms()
    limit = float(sim.engine.price_now("BTC/USDT")) * 0.997
    order = client.create_order("BTC/USDT", "limit", "buy", 0.01, limit)
    assert order["status"] == "open"
    assert client.fetch_balance()["USDT"]["used"] == pytest.approx(0.01 * round(limit, 2), abs=0.01)
    touched = _first_minute_reaching(sim, "BTC/USDT", round(limit, 2), now)
    sim.advance((touched + MINUTE_MS - sim.clock.now_ms()) / 1000)
    filled = client.fetch_order(order["id"], "BTC/USDT")
    assert filled["status"] == "closed" and filled["average"] == round(limit, 2)
    trade = client.fetch_my_trades("BTC/USDT")[0]
    assert trade["takerOrMaker"] == "maker" and trade["fee"]["currency"] == "BTC"
    assert client.fetch_balance()["USDT"]["used"] == 0


def test_a_pinned_price_fills_a_resting_sell(sim, client):
    client.create_order("ETH/USDT", "market", "buy", 1)
    high = float(sim.engine.price_now("ETH/USDT")) * 1.2
    order = client.create_order("ETH/USDT", "limit", "sell", 0.5, high)
    assert client.fetch_order(order["id"], "ETH/USDT")["status"] == "open"
    sim.price_pin("ETH/USDT", Decimal(str(high)) + 1)
    assert client.fetch_order(order["id"], "ETH/USDT")["status"] == "closed"


def test_a_cancelled_limit_order_releases_its_funds(client):
    order = client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000)
    assert client.fetch_balance()["USDT"]["used"] == 100
    cancelled = client.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    assert client.fetch_balance()["USDT"] == {"free": 100_000, "used": 0, "total": 100_000}
    assert client.fetch_open_orders("BTC/USDT") == []


def test_an_order_is_found_by_its_client_order_id(sim, client):
    client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000, params={"clientOrderId": "desk-42"})
    assert client.fetch_order(None, "BTC/USDT", params={"clientOrderId": "desk-42"})["clientOrderId"] == "desk-42"
    assert client.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "desk-42"})["status"] == "open"
    assert [o.client_order_id for o in sim.orders()] == ["desk-42"]
    cancelled = client.cancel_order(None, "BTC/USDT", params={"clientOrderId": "desk-42"})
    assert cancelled["status"] == "canceled"


def test_a_client_order_id_of_an_open_order_is_refused_as_duplicate(sim, client):
    client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000, params={"clientOrderId": "desk-7"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent") as caught:
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000, params={"clientOrderId": "desk-7"})
    assert isinstance(classify(caught.value), InvalidOrderError)
    assert len(sim.orders()) == 1


def test_a_client_order_id_may_be_reused_once_the_order_is_closed(client):
    first = client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000, params={"clientOrderId": "again"})
    client.cancel_order(first["id"], "BTC/USDT")
    second = client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000, params={"clientOrderId": "again"})
    assert client.fetch_order(None, "BTC/USDT", params={"clientOrderId": "again"})["id"] == second["id"]


def test_open_orders_and_all_orders_list_what_was_placed(client):
    client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000)
    client.create_order("BTC/USDT", "market", "buy", 0.001)
    assert len(client.fetch_open_orders("BTC/USDT")) == 1
    assert [o["status"] for o in client.fetch_orders("BTC/USDT")] == ["open", "closed"]


def test_a_post_only_order_that_would_take_is_rejected(sim, client):
    above_market = float(sim.engine.price_now("BTC/USDT")) * 1.01
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        client.create_order("BTC/USDT", "limit", "buy", 0.01, above_market, params={"postOnly": True})
    assert sim.orders() == []
