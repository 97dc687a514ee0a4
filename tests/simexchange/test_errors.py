"""Binance's error codes reach the desk as the ccxt exceptions and our taxonomy expect."""

import ccxt
import pytest

from apps.exchanges import errors as desk
from apps.exchanges.errors import classify
from apps.simexchange.faults import ErrorFault
from tests.simulated_exchange import TEST_API_KEY, sim_client


@pytest.mark.parametrize(
    "status, code, ccxt_class, desk_class",
    [
        (429, -1003, ccxt.DDoSProtection, desk.RateLimitedError),
        (418, -1003, ccxt.DDoSProtection, desk.RateLimitedError),
        (400, -1003, ccxt.RateLimitExceeded, desk.RateLimitedError),
        (400, -1021, ccxt.InvalidNonce, desk.ClockSkewError),
        (400, -1022, ccxt.AuthenticationError, desk.AuthenticationFailedError),
        (401, -2014, ccxt.AuthenticationError, desk.AuthenticationFailedError),
        (401, -2015, ccxt.AuthenticationError, desk.AuthenticationFailedError),
        (400, -2010, ccxt.InsufficientFunds, desk.InsufficientFundsError),
        (400, -2013, ccxt.OrderNotFound, desk.OrderNotFoundError),
        (503, None, ccxt.ExchangeNotAvailable, desk.ExchangeUnavailableError),
        (502, None, ccxt.ExchangeNotAvailable, desk.ExchangeUnavailableError),
    ],
)
def test_an_injected_error_maps_to_the_expected_classes(sim, status, code, ccxt_class, desk_class):
    client = sim_client(sim)  # fresh: ccxt treats -2015 after a success as a temporary ban
    client.load_markets()
    sim.faults.error_add(ErrorFault(status=status, code=code, path="/api/v3/account"))
    with pytest.raises(ccxt_class) as caught:
        client.fetch_balance()
    assert isinstance(classify(caught.value), desk_class)
    assert client.fetch_balance()["USDT"]["free"] == 100_000  # one request only


def test_a_wrong_secret_is_a_bad_signature(sim):
    client = sim_client(sim, secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        client.fetch_balance()


def test_an_unknown_api_key_is_refused(sim):
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        sim_client(sim, api_key="nobody", secret="x").fetch_balance()


def test_a_request_signed_too_long_ago_is_outside_the_recv_window(sim, client):
    client.options["timeDifference"] = 120_000  # our clock two minutes behind
    with pytest.raises(ccxt.InvalidNonce, match="recvWindow"):
        client.fetch_balance()


def test_buying_more_than_the_balance_is_insufficient_funds(sim, client):
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order("BTC/USDT", "market", "buy", 5)
    assert sim.orders(TEST_API_KEY) == []


def test_an_unknown_order_is_not_found(client):
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order("999999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order("999999", "BTC/USDT")


def _raw_order(client, **overrides):
    request = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "10000.00"}
    request.update(overrides)
    return client.privatePostOrder(request)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"quantity": "0.000011"}, "LOT_SIZE"),
        ({"quantity": "0.000001"}, "LOT_SIZE"),
        ({"price": "10000.005"}, "PRICE_FILTER"),
    ],
)
def test_exchange_filters_reject_like_binance(sim, client, overrides, message):
    client.load_markets()
    with pytest.raises(ccxt.InvalidOrder, match=message) as caught:
        _raw_order(client, **overrides)
    assert isinstance(classify(caught.value), desk.InvalidOrderError)
    assert sim.orders() == []


def test_an_order_below_the_min_notional_is_rejected(sim, client):
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL") as caught:
        client.create_order("BTC/USDT", "limit", "buy", 0.0001, 10_000)  # 1 USDT < 5
    # ccxt maps -1013 to BadRequest (not InvalidOrder) for non-binance hosts: it is still permanent.
    assert not classify(caught.value).retryable
    assert sim.orders() == []


@pytest.mark.parametrize(
    "overrides, code",
    [({"quantity": "abc"}, "-1100"), ({"price": ""}, "-1102"), ({"side": "HOLD"}, "-1117"), ({"symbol": "DOGEUSDT"}, "-1121")],
)
def test_malformed_parameters_get_binance_codes(client, overrides, code):
    client.load_markets()
    with pytest.raises(ccxt.ExchangeError, match=code) as caught:
        _raw_order(client, **overrides)
    assert not classify(caught.value).retryable
