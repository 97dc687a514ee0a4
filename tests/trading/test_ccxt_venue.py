"""The same order service through the real ccxt client against the simulated exchange."""

from decimal import Decimal as D

import pytest

from apps.simexchange.faults import ErrorFault
from apps.trading.models import Fill, Order, Position
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.services.resolution import order_resolve
from tests.simulated_exchange import simexchange_running

from .factories import signal_make, strategy_make
from .sim import price_move, sim_desk, sim_orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=0.05) as exchange:
        yield exchange


def place(strategy, market, **kwargs) -> Order:
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market, **kwargs).pk)
    assert order is not None, order
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    return order


def test_a_round_trip_on_the_exchange_matches_a_hand_calculation_from_the_fills(sim):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))

    buy = place(strategy, market)
    price_move(sim, market, D("61000"))
    sell = place(strategy, market, side="sell", intent="close")

    assert (buy.status, sell.status) == ("filled", "filled")
    [bought], [sold] = Fill.objects.filter(order=buy), Fill.objects.filter(order=sell)
    assert bought.fee_currency == "BTC" and sold.fee_currency == "USDT"  # Binance takes the fee from what you receive
    held = bought.amount - bought.fee
    position = Position.objects.get()
    fees = bought.fee * bought.price + sold.fee
    assert sold.amount == held.quantize(D("0.00001"), rounding="ROUND_DOWN")
    assert position.fees == fees
    assert position.realized_pnl == (sold.price - bought.price) * sold.amount - fees
    assert position.amount == held - sold.amount
    assert [o.client_order_id for o in sim_orders(sim)] == [buy.client_order_id, sell.client_order_id]


def test_insufficient_balance_is_rejected_with_the_exchanges_reason_and_not_retried(sim):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("99000"))
    sim.state.accounts[account.api_key].free["USDT"] = D("10")

    order = place(strategy, market)

    assert order.status == "rejected" and "insufficient balance" in order.reason.lower()
    assert order.submit_attempts == 1 and sim_orders(sim) == []


def test_an_order_under_the_minimum_notional_is_rejected_with_the_exchanges_reason(sim):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("3"))

    order = place(strategy, market)

    assert order.status == "rejected" and "notional" in order.reason.lower()
    assert sim_orders(sim) == []


def test_an_amount_finer_than_the_exchanges_step_is_rejected_not_rounded_up(sim):
    account, market = sim_desk(sim, price=D("60000"))
    market.amount_precision = D("0.00000001")  # our copy of the rules is wrong: the exchange decides
    market.save()
    strategy = strategy_make(account=account, markets=[market], allocation=D("600.00123"))

    order = place(strategy, market)

    assert order.status == "rejected", order.reason
    assert sim_orders(sim) == []


def test_a_dropped_reply_leaves_the_order_unknown_and_the_look_up_finds_the_booked_one(sim, settings):
    from apps.exchanges.clients import exchange_client

    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    exchange_client(account).timeout = 1500
    sim.faults.drop_add(1, hold_seconds=3)

    order = place(strategy, market)
    assert order.status == "unknown"
    assert order_resolve(order_id=order.pk) == "resolved"

    order.refresh_from_db()
    assert order.status == "filled" and order.venue_order_id
    assert [o.client_order_id for o in sim_orders(sim)] == [order.client_order_id]
    assert Fill.objects.filter(order=order).count() == 1


MALFORMED = ["not json", '{"unexpected": true}', "null", '{"orderId": 12}']


@pytest.mark.parametrize("body", MALFORMED)
def test_a_malformed_create_reply_leaves_the_order_unknown_and_it_is_resent_once_proven_never_booked(sim, settings, body):
    settings.TRADING_RESOLVE_SAFE_AGE_S = 0
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    sim.faults.error_add(ErrorFault(status=200, text=body, path="/api/v3/order", method="POST"))  # not booked

    order = place(strategy, market)
    assert (order.status, order.venue_order_id) == ("unknown", "")  # never an acknowledged OPEN order
    assert "reply unusable (malformed_reply)" in order.events.last().cause

    assert [order_resolve(order_id=order.pk) for _ in range(3)] == ["retry", "retry", "resent"]
    order.refresh_from_db()
    assert order.status == "filled" and order.venue_order_id and order.submit_attempts == 2
    assert [o.client_order_id for o in sim_orders(sim)] == [order.client_order_id]


@pytest.mark.parametrize("body", MALFORMED[:3])
def test_a_malformed_reply_to_a_booked_order_is_resolved_to_its_real_state_by_look_up(sim, body):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    sim.faults.garble_add(1, text=body)  # booked, then answered with a body that is not an order

    order = place(strategy, market)
    assert order.status == "unknown"
    assert order_resolve(order_id=order.pk) == "resolved"

    order.refresh_from_db()
    assert order.status == "filled" and order.venue_order_id
    assert [o.client_order_id for o in sim_orders(sim)] == [order.client_order_id]
    assert Fill.objects.filter(order=order).count() == 1
