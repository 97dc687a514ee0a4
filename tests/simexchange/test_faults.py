"""Chaos: dropped answers, latency, downtime; the desk's client sees what a real outage looks like."""

import time

import ccxt
import pytest

from apps.exchanges import errors as desk
from apps.exchanges.errors import classify
from apps.simexchange.faults import ErrorFault, LatencyFault
from tests.simulated_exchange import sim_client


def test_a_dropped_answer_times_out_the_client_while_the_order_is_booked(sim):
    client = sim_client(sim, timeout_ms=500)
    client.load_markets()
    sim.faults.drop_add(1, hold_seconds=5)
    with pytest.raises(ccxt.RequestTimeout) as caught:
        client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "lost-1"})
    assert isinstance(classify(caught.value), desk.ExchangeTimeoutError)
    booked = sim.orders()
    assert [(o.client_order_id, o.status) for o in booked] == [("lost-1", "FILLED")]
    # The desk's recovery path: look the order up by its client order id.
    found = client.fetch_order(None, "BTC/USDT", params={"clientOrderId": "lost-1"})
    assert found["status"] == "closed" and found["id"] == str(booked[0].order_id)


def test_latency_makes_a_short_timeout_expire_for_the_next_request_only(sim):
    client = sim_client(sim, timeout_ms=300)
    client.load_markets()
    sim.faults.latency_add(LatencyFault(ms=1000, remaining=1))
    with pytest.raises(ccxt.RequestTimeout):
        client.fetch_ticker("BTC/USDT")
    assert client.fetch_ticker("BTC/USDT")["last"] > 0


def test_errors_can_target_one_path_only(sim, client):
    client.load_markets()
    sim.faults.error_add(ErrorFault(status=500, code=-1001, path="/api/v3/order", method="POST", remaining=2))
    assert client.fetch_ticker("BTC/USDT")["last"] > 0
    for _ in range(2):
        with pytest.raises(ccxt.OperationFailed):  # -1001 "Internal error; please try again"
            client.create_order("BTC/USDT", "market", "buy", 0.001)
    assert client.create_order("BTC/USDT", "market", "buy", 0.001)["status"] == "closed"


def test_the_exchange_is_down_for_a_while_then_back(sim, client):
    client.load_markets()
    sim.faults.down_for(0.8)
    with pytest.raises(ccxt.ExchangeNotAvailable) as caught:
        client.fetch_ticker("BTC/USDT")
    assert classify(caught.value).retryable
    time.sleep(1.0)
    assert client.fetch_ticker("BTC/USDT")["last"] > 0


def test_a_reset_connection_is_a_network_error(sim, client):
    client.load_markets()
    sim.faults.down_for(30, mode="reset")
    with pytest.raises(ccxt.NetworkError) as caught:
        client.fetch_balance()
    assert isinstance(classify(caught.value), desk.ExchangeUnavailableError)
    sim.faults.reset()
    assert client.fetch_balance()["USDT"]["free"] == 100_000


def test_the_real_rate_limit_answers_429(sim, client):
    client.load_markets()
    sim.limiter.per_minute = 3
    with pytest.raises(ccxt.DDoSProtection) as caught:
        for _ in range(5):
            client.fetch_ticker("BTC/USDT")
    assert isinstance(classify(caught.value), desk.RateLimitedError)


def test_a_garbled_answer_is_a_200_that_is_not_an_order_while_the_order_is_booked(sim):
    client = sim_client(sim)
    client.load_markets()
    sim.faults.garble_add(1, text="null")
    answered = client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "garbled-1"})
    assert (answered["id"], answered["status"]) == (None, None)  # ccxt turns the body into an order of Nones
    assert [(o.client_order_id, o.status) for o in sim.orders()] == [("garbled-1", "FILLED")]
    assert sim.faults.describe()["garble_orders"] == 0
