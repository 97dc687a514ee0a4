"""Operator commands against the simulated exchange through the real ccxt client: a trader
cancels an order, closes a position, flattens an account; each is audited; a viewer, a stranger
and a position already closed are refused in words. After each, the exchange's orders are the
desk's orders, each client_order_id once, and each position is the sum of its fills."""

from decimal import Decimal as D
from itertools import count

import pytest

from apps.common.audit import Via
from apps.common.errors import Conflict, NotAllowed, NotFound
from apps.common.models import AuditEntry
from apps.risk.models import RiskEvent
from apps.risk.services import kill_switch_set
from apps.simexchange.faults import ErrorFault
from apps.trading.models import Order, OrderEvent, Position, Signal
from apps.trading.services.operator import account_flatten, order_cancel, position_close
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.services.reconcile import orders_reconcile
from apps.trading.venue_health import venue_success_record
from tests.simulated_exchange import TEST_API_KEY, simexchange_running

from .factories import signal_make, strategy_make
from .people import books_agree_with_the_exchange, people_make
from .sim import market_on_sim, price_move, sim_desk, sim_orders

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]
_ids = count(1)


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=0.05) as exchange:
        yield exchange


@pytest.fixture
def desk(sim):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    yield account, market, strategy, people_make(account)
    venue_success_record(account_id=account.pk)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what the service queued on commit (the order's submission), as a worker would."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            result = call()
        return result

    return run


def bought(strategy, market) -> Position:
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "filled", order.reason
    return Position.objects.get(account=strategy.account, market=market)


def resting_limit(account, market, *, price: D, amount: D = D("0.01"), side: str = "buy") -> Order:
    order = Order.objects.create(
        account=account,
        market=market,
        client_order_id=f"test-limit-{next(_ids)}",
        side=side,
        type=Order.Type.LIMIT,
        price=price,
        amount=amount,
    )
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "open", order.reason
    return order


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


# --- position_close -------------------------------------------------------------------------


def test_a_trader_closes_a_position_with_a_market_sell_through_the_risk_rules(desk, sim, commit):
    account, market, strategy, people = desk
    position = bought(strategy, market)
    held = position.amount

    closing = commit(
        lambda: position_close(
            actor=people["trader"], via=Via.COMMAND, position_id=position.pk, reason="taking profit before the news"
        )
    )

    order = Order.objects.get(pk=closing.order.pk)
    assert (order.side, order.type, order.status, order.reduce_only) == ("sell", "market", "filled", True)
    assert order.amount == held.quantize(market.amount_precision, rounding="ROUND_DOWN")
    signal = order.signal
    assert (signal.source, signal.intent, signal.status) == (Signal.Source.OPERATOR, "close", "accepted")
    assert "tina: taking profit before the news" in signal.reason
    assert RiskEvent.objects.get(signal=signal).decision == RiskEvent.Decision.ALLOWED
    position.refresh_from_db()
    assert position.amount < market.amount_precision  # only the dust the exchange's fee left
    [entry] = entries("position.close")
    assert (entry.who, entry.via, entry.outcome, entry.object_id) == (people["trader"], "command", "done", str(position.pk))
    assert D(entry.before["amount"]) == held and entry.after["order"] == order.client_order_id
    assert entry.reason == "taking profit before the news"
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_closing_what_is_left_after_a_close_is_refused_as_dust_and_audited(desk, sim, commit):
    account, market, strategy, people = desk
    position = bought(strategy, market)
    commit(lambda: position_close(actor=people["trader"], via=Via.COMMAND, position_id=position.pk, reason="exit"))
    orders_before = len(sim_orders(sim))

    with pytest.raises(Conflict, match="dust .* cannot be sold"):
        position_close(actor=people["trader"], via=Via.COMMAND, position_id=position.pk, reason="again")

    assert len(sim_orders(sim)) == orders_before
    refused = entries("position.close")[-1]
    assert (refused.who, refused.outcome) == (people["trader"], "refused") and "dust" in refused.reason
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_viewer_may_not_close_a_position_and_the_refusal_is_audited(desk, sim):
    account, market, strategy, people = desk
    position = bought(strategy, market)

    with pytest.raises(NotAllowed, match="victor may not close positions: that needs the trader role"):
        position_close(actor=people["viewer"], via=Via.COMMAND, position_id=position.pk, reason="panic")

    assert Position.objects.get(pk=position.pk).amount == position.amount
    assert not Signal.objects.filter(source=Signal.Source.OPERATOR).exists()
    [entry] = entries("position.close")
    assert (entry.who, entry.outcome) == (people["viewer"], "refused") and "trader role" in entry.reason
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_stranger_is_told_there_is_no_such_position(desk, sim):
    account, market, strategy, people = desk
    position = bought(strategy, market)

    with pytest.raises(NotFound, match=f"no position #{position.pk} on your accounts"):
        position_close(actor=people["stranger"], via=Via.COMMAND, position_id=position.pk, reason="mine now")

    assert entries("position.close")[0].outcome == "refused"
    assert len(sim_orders(sim)) == 1  # the entry only
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_close_already_on_its_way_is_not_sent_twice(desk, sim):
    account, market, strategy, people = desk
    position = bought(strategy, market)
    selling = resting_limit(account, market, price=D("70000"), amount=D("0.001"), side="sell")

    with pytest.raises(Conflict, match=f"already on its way: order {selling.client_order_id} is open"):
        position_close(actor=people["trader"], via=Via.COMMAND, position_id=position.pk, reason="exit")

    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_close_the_halted_kill_switch_stops_is_refused_with_the_risk_reason(desk, sim, commit):
    account, market, strategy, people = desk
    position = bought(strategy, market)
    kill_switch_set(actor=None, account=account, state="halted", reason="drill")

    with pytest.raises(Conflict, match="kill switch is HALTED"):
        commit(lambda: position_close(actor=people["trader"], via=Via.COMMAND, position_id=position.pk, reason="exit"))

    signal = Signal.objects.get(source=Signal.Source.OPERATOR)
    assert signal.status == "rejected" and "HALTED" in signal.rejection_reason  # kept, as every refused signal
    assert entries("position.close")[-1].outcome == "refused"
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


# --- order_cancel ---------------------------------------------------------------------------


def test_a_trader_cancels_an_open_order_on_the_exchange(desk, sim):
    account, market, strategy, people = desk
    order = resting_limit(account, market, price=D("50000"))

    canceled = order_cancel(actor=people["trader"], via=Via.COMMAND, order_id=order.pk, reason="wrong price")

    assert canceled.status == "canceled"
    assert [sim_order.status for sim_order in sim_orders(sim)] == ["CANCELED"]
    steps = list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))
    assert steps[-2:] == ["canceling", "canceled"]
    [entry] = entries("order.cancel")
    assert (entry.who, entry.via, entry.outcome) == (people["trader"], "command", "done")
    assert (entry.before["status"], entry.after["status"]) == ("open", "canceled")
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_cancel_that_loses_the_race_against_a_fill_records_the_fill(desk, sim):
    account, market, strategy, people = desk
    order = resting_limit(account, market, price=D("59000"))
    price_move(sim, market, D("58000"))
    sim.engine.resting_match()  # (or the exchange's own tick did already)
    assert [sim_order.status for sim_order in sim_orders(sim)] == ["FILLED"]  # before the cancel arrives

    result = order_cancel(actor=people["trader"], via=Via.COMMAND, order_id=order.pk)

    assert (result.status, result.filled) == ("filled", order.amount)
    assert Position.objects.get(account=account, market=market).amount > 0
    assert entries("order.cancel")[0].after["status"] == "filled"
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_canceling_a_filled_order_is_a_conflict(desk, sim):
    account, market, strategy, people = desk
    bought(strategy, market)
    order = Order.objects.get(account=account)

    with pytest.raises(Conflict, match="is filled: only an open order can be canceled"):
        order_cancel(actor=people["trader"], via=Via.COMMAND, order_id=order.pk)

    assert entries("order.cancel")[0].outcome == "refused"
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


@pytest.mark.parametrize("who, refusal", [("viewer", NotAllowed), ("stranger", NotFound)])
def test_a_viewer_or_a_stranger_may_not_cancel_an_order(desk, sim, who, refusal):
    account, market, strategy, people = desk
    order = resting_limit(account, market, price=D("50000"))

    with pytest.raises(refusal):
        order_cancel(actor=people[who], via=Via.COMMAND, order_id=order.pk)

    assert Order.objects.get(pk=order.pk).status == "open"
    assert [sim_order.status for sim_order in sim_orders(sim)] == ["NEW"]
    assert entries("order.cancel")[0].outcome == "refused"
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_an_order_not_sent_yet_is_withdrawn_and_never_leaves_the_desk(desk, sim):
    account, market, strategy, people = desk
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)  # NEW, its submit not run yet

    order_cancel(actor=people["trader"], via=Via.COMMAND, order_id=order.pk)

    assert order_submit(order_id=order.pk) is None  # the worker finds nothing to claim
    assert Order.objects.get(pk=order.pk).status == "canceled" and sim_orders(sim) == []
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_cancel_the_exchange_does_not_confirm_is_settled_by_reconciliation(desk, sim):
    account, market, strategy, people = desk
    order = resting_limit(account, market, price=D("50000"))
    sim.faults.error_add(ErrorFault(status=503, remaining=1, path="/api/v3/order", method="DELETE"))

    result = order_cancel(actor=people["trader"], via=Via.COMMAND, order_id=order.pk)

    assert result.status == "canceling"
    assert "reconciliation will settle it" in entries("order.cancel")[0].after["note"]
    venue_success_record(account_id=account.pk)
    orders_reconcile(account_id=account.pk)
    assert Order.objects.get(pk=order.pk).status == "open"  # the cancel never arrived: still working there
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


# --- account_flatten ------------------------------------------------------------------------


def test_flattening_cancels_every_open_order_then_closes_every_position(desk, sim, commit):
    account, market, strategy, people = desk
    ether = market_on_sim(sim, market.exchange, symbol="ETH/USDT", price=D("3000"))
    position = bought(strategy, market)
    take_profit = resting_limit(account, market, price=D("70000"), amount=D("0.001"), side="sell")
    ether_bid = resting_limit(account, ether, price=D("2000"), amount=D("0.01"))

    done = commit(lambda: account_flatten(actor=people["trader"], via=Via.COMMAND, account_id=account.pk, reason="end of day"))

    assert {order.pk for order in done.canceled} == {take_profit.pk, ether_bid.pk} and not done.failed
    assert Order.objects.get(pk=take_profit.pk).status == Order.objects.get(pk=ether_bid.pk).status == "canceled"
    [closing] = done.closing
    assert closing.position == position and Order.objects.get(pk=closing.order.pk).status == "filled"
    assert Position.objects.get(pk=position.pk).amount < market.amount_precision
    [summary] = entries("account.flatten")
    assert (summary.who, summary.outcome, summary.object_id) == (people["trader"], "done", str(account.pk))
    assert sorted(summary.before["live_orders"]) == sorted([take_profit.client_order_id, ether_bid.client_order_id])
    assert summary.after["closing"] == [closing.order.client_order_id]
    assert len(entries("order.cancel")) == 2 and len(entries("position.close")) == 1
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


@pytest.mark.parametrize("who, refusal", [("viewer", NotAllowed), ("stranger", NotFound)])
def test_a_viewer_or_a_stranger_may_not_flatten_an_account(desk, sim, who, refusal):
    account, market, strategy, people = desk
    position = bought(strategy, market)

    with pytest.raises(refusal):
        account_flatten(actor=people[who], via=Via.COMMAND, account_id=account.pk, reason="no")

    assert Position.objects.get(pk=position.pk).amount == position.amount
    [entry] = entries("account.flatten")
    assert (entry.who, entry.outcome) == (people[who], "refused")
    assert not entries("position.close")
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)
