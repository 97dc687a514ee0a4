"""The circuit breaker per exchange account: shared state (the cache: Redis here), open after the
failures in a row, one probe after the timeout, closed by an answer. The real ccxt client against
the simulated exchange."""

import time
from decimal import Decimal as D

import pytest

from apps.exchanges.breaker import CLOSED, HALF_OPEN, OPEN, account_service, breaker_reset, breaker_state
from apps.exchanges.errors import CircuitOpenError, ExchangeCallError
from apps.simexchange.faults import ErrorFault
from apps.trading.models import Order
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.venues import venue_for

from .factories import signal_make, strategy_make
from .sim import sim_desk

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def account(sim, settings):
    settings.TRADING_BREAKER_FAILURES = 3
    settings.TRADING_BREAKER_TIMEOUT_S = 2
    account, _ = sim_desk(sim)
    breaker_reset(account_service(account.pk))
    yield account
    breaker_reset(account_service(account.pk))


def test_the_breaker_opens_after_the_failures_in_a_row_and_one_probe_closes_it(sim, account):
    venue, service = venue_for(account), account_service(account.pk)
    sim.faults.error_add(ErrorFault(status=503, remaining=100, path="/api/v3/ticker/price"))
    sim.faults.error_add(ErrorFault(status=503, remaining=100, path="/api/v3/ticker/24hr"))
    for _ in range(3):
        with pytest.raises(ExchangeCallError):
            venue.last_price("BTC/USDT")
    assert breaker_state(service) == OPEN
    with pytest.raises(CircuitOpenError, match="circuit breaker open"):
        venue.balances_fetch()  # any call of the account is refused at once, not only the failing one
    time.sleep(2.1)
    assert breaker_state(service) == HALF_OPEN
    sim.faults.reset()
    assert venue.balances_fetch() is not None  # the probe: answered
    assert breaker_state(service) == CLOSED


def test_a_failed_probe_opens_it_again_and_a_refusal_counts_as_an_answer(sim, account):
    venue, service = venue_for(account), account_service(account.pk)
    sim.faults.down_for(60, "503")
    for _ in range(3):
        with pytest.raises(ExchangeCallError):
            venue.balances_fetch()
    time.sleep(2.1)
    with pytest.raises(ExchangeCallError) as probe:
        venue.balances_fetch()
    assert not isinstance(probe.value, CircuitOpenError) and breaker_state(service) == OPEN
    sim.faults.reset()
    time.sleep(2.1)
    venue.last_price("BTC/USDT")
    assert breaker_state(service) == CLOSED


def test_an_exit_while_the_breaker_is_open_is_not_sent_and_waits_as_unknown(sim, account):
    _, market = sim_desk(sim)
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    entry = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    order_submit(order_id=entry.pk)
    sim.faults.down_for(60, "503")
    venue = venue_for(account)
    for _ in range(3):
        with pytest.raises(ExchangeCallError):
            venue.last_price("BTC/USDT")
    exit_ = signal_execute(signal_id=signal_make(strategy=strategy, market=market, side="sell", intent="close").pk)
    order_submit(order_id=exit_.pk)
    exit_.refresh_from_db()
    assert exit_.status == "unknown" and "not sent (circuit_open)" in exit_.events.last().cause
    assert not [o for o in sim.orders() if o.client_order_id == exit_.client_order_id]
    assert Order.objects.filter(status="unknown").count() == 1
