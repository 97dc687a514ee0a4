"""Reusable test helpers: a simulated exchange on a free port, and the desk's real ccxt client.

from tests.simulated_exchange import simexchange_running, sim_client

with simexchange_running(seed=7) as sim:
    client = sim_client(sim)            # apps.exchanges.clients.ccxt_client_build -> sim.url
    client.load_markets()
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from apps.simexchange.server import HAND_PREFIX, SimExchange

TEST_API_KEY = "sim-test-key"
TEST_SECRET = "sim-test-secret"


@contextmanager
def simexchange_running(**options) -> Iterator[SimExchange]:
    """A started SimExchange (port 0 = free port) with the test account, stopped afterwards."""
    options.setdefault("accounts", [(TEST_API_KEY, TEST_SECRET)])
    options.setdefault("rate_limit_per_minute", 0)
    sim = SimExchange(**options)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def sim_client(sim: SimExchange, *, api_key: str = TEST_API_KEY, secret: str = TEST_SECRET, timeout_ms: int | None = None):
    """The desk's own ccxt client (Binance class) pointed at this simulated exchange."""
    from apps.exchanges.clients import (
        ccxt_client_build,  # imports Django models: needs settings
    )

    client = ccxt_client_build(ccxt_id="binance", api_key=api_key, secret=secret, base_url=sim.url)
    if timeout_ms is not None:
        client.timeout = timeout_ms
    return client


def _control_post(sim: SimExchange, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        sim.url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def balance_set_outside(sim: SimExchange, asset: str, free: Decimal, *, api_key: str = TEST_API_KEY) -> dict:
    """A deposit or withdrawal the desk did not make, through the control endpoint."""
    return _control_post(sim, f"/sim/accounts/{api_key}/balance", {"asset": asset, "free": str(free)})


def trade_by_hand(sim: SimExchange, symbol: str, side: str, amount: Decimal, *, api_key: str = TEST_API_KEY) -> dict:
    """A market order placed on the exchange by a person, not by the desk (control endpoint)."""
    return _control_post(sim, f"/sim/accounts/{api_key}/trade", {"symbol": symbol, "side": side, "amount": str(amount)})


def is_by_hand(client_order_id: str) -> bool:
    return client_order_id.startswith(HAND_PREFIX)
