"""Fixtures: a simulated exchange on a free port and the desk's real ccxt client against it."""

import pytest

from apps.engine.market_sim import ANCHOR_MS, DAY_MS
from tests.simulated_exchange import sim_client, simexchange_running

# A fixed simulated start (half past noon on day 800) so prices in these tests never depend on today.
START_MS = ANCHOR_MS + 800 * DAY_MS + 12 * 3_600_000 + 30 * 60_000 + 15_000


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=2, start_ms=START_MS) as exchange:
        yield exchange


@pytest.fixture
def client(sim):
    return sim_client(sim)
