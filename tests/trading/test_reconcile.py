"""Reconciliation: what the exchange did after the desk last looked reaches the desk, exactly
once, and what the desk never placed is reported, never touched. The real ccxt client against
the simulated exchange."""

from datetime import timedelta
from decimal import Decimal as D
from itertools import count

import pytest
from django.utils import timezone

from apps.common.models import Event
from apps.exchanges.clients import exchange_client
from apps.simexchange.faults import ErrorFault
from apps.trading.models import Fill, Order, OrderEvent, PortfolioSnapshot, Position
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.services.reconcile import (
    orders_reconcile,
    orders_to_check,
    reconcile_topic,
)
from apps.trading.services.resolution import order_resolve
from apps.trading.tasks import reconcile_all
from apps.trading.venue_health import venue_down_reason, venue_success_record
from apps.trading.venues import PaperVenue
from tests.simulated_exchange import TEST_API_KEY, sim_client

from .factories import account_make, fresh_market, signal_make, strategy_make
from .sim import price_move, sim_desk, sim_orders

pytestmark = pytest.mark.django_db
_ids = count(1)


@pytest.fixture
def desk(sim):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    yield account, market, strategy
    venue_success_record(account_id=account.pk)  # a "venue down" mark must not reach the next test


def market_buy(strategy, market) -> Order:
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    return order


def limit_order(account, market, *, price: D, amount: D = D("0.01"), side: str = "buy") -> Order:
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


def cancel_on_exchange(sim, order: Order) -> None:
    """What a trader does on the exchange's own site."""
    sim.engine.order_cancel(
        sim.state.accounts[TEST_API_KEY], symbol=order.market.symbol, order_id=None, client_order_id=order.client_order_id
    )


def events(account, kind: str) -> list[dict]:
    return list(Event.objects.filter(topic=reconcile_topic(account.pk), kind=kind).values_list("payload", flat=True))


def test_a_filled_order_whose_trades_could_not_be_fetched_gets_its_fills_and_position_at_the_next_reconciliation(desk, sim):
    account, market, strategy = desk
    exchange_client(account).timeout = 1500
    sim.faults.drop_add(1, hold_seconds=3)  # the create's reply is lost: the order goes UNKNOWN
    order = market_buy(strategy, market)
    sim.faults.error_add(ErrorFault(status=503, remaining=4, path="/api/v3/myTrades"))  # every retry of the trades fetch
    assert order_resolve(order_id=order.pk) == "resolved"
    order.refresh_from_db()
    assert order.status == "filled" and not Fill.objects.filter(order=order).exists()  # the gap
    assert not Position.objects.filter(account=account, amount__gt=0).exists()

    first = orders_reconcile(account_id=account.pk)
    second = orders_reconcile(account_id=account.pk)

    [fill] = Fill.objects.filter(order=order)
    order.refresh_from_db()
    assert (order.status, order.filled) == ("filled", order.amount)
    assert Position.objects.get(account=account).amount == fill.amount - fill.fee  # Binance takes the fee in BTC
    assert (first.orders_checked, first.fills_applied, first.status_changes) == (1, 1, 0)
    assert (second.orders_checked, second.fills_applied) == (0, 0)  # exactly once: nothing is missing any more
    assert [summary["fills_applied"] for summary in events(account, "reconcile.completed")] == [1, 0]


def test_an_open_limit_order_that_fills_later_on_the_exchange_is_filled_in_the_desk_with_its_fill_and_position(desk, sim):
    account, market, _ = desk
    order = limit_order(account, market, price=D("59000"))
    price_move(sim, market, D("58900"))  # the exchange fills the resting order at its limit

    report = orders_reconcile(account_id=account.pk)

    order.refresh_from_db()
    [fill] = Fill.objects.filter(order=order)
    assert order.status == "filled" and "reconciliation" in order.events.last().cause
    assert (fill.price, fill.amount) == (D("59000"), D("0.01"))
    assert Position.objects.get(account=account).amount == D("0.01") - fill.fee
    assert (report.orders_checked, report.fills_applied, report.status_changes) == (1, 1, 1)
    assert orders_reconcile(account_id=account.pk).fills_applied == 0


def test_an_order_canceled_on_the_exchange_becomes_canceled_in_the_desk(desk, sim):
    account, market, _ = desk
    order = limit_order(account, market, price=D("59000"))
    cancel_on_exchange(sim, order)

    report = orders_reconcile(account_id=account.pk)

    order.refresh_from_db()
    assert order.status == "canceled" and "reconciliation" in order.reason
    assert not Fill.objects.filter(order=order).exists()
    assert report.status_changes == 1


def test_an_open_order_the_desk_never_placed_is_reported_once_and_left_open_on_the_exchange(desk, sim):
    account, market, _ = desk
    ours = limit_order(account, market, price=D("59000"))
    by_hand = sim_client(sim).create_order("BTC/USDT", "limit", "buy", 0.002, 50000, {"newClientOrderId": "by-hand-1"})

    report = orders_reconcile(account_id=account.pk)
    again = orders_reconcile(account_id=account.pk)

    [reported] = events(account, "reconcile.unknown_order")
    assert {key: reported[key] for key in ("symbol", "venue_order_id", "client_order_id", "side")} == {
        "symbol": "BTC/USDT",
        "venue_order_id": str(by_hand["id"]),
        "client_order_id": "by-hand-1",
        "side": "buy",
    }
    assert (D(reported["amount"]), D(reported["price"]), D(reported["filled"])) == (D("0.002"), D("50000"), 0)
    assert len(report.unknown_orders) == len(again.unknown_orders) == 1  # still counted each run, recorded once
    assert [(o.client_order_id, o.status) for o in sim_orders(sim)] == [(ours.client_order_id, "NEW"), ("by-hand-1", "NEW")]
    assert list(Order.objects.values_list("client_order_id", flat=True)) == [ours.client_order_id]


def test_an_order_the_desk_thinks_settled_but_is_open_on_the_exchange_is_reported(desk, sim):
    account, market, _ = desk
    order = limit_order(account, market, price=D("59000"))
    Order.objects.filter(pk=order.pk).update(status="expired")  # e.g. concluded "never booked"

    orders_reconcile(account_id=account.pk)

    [reported] = events(account, "reconcile.status_mismatch")
    assert (reported["client_order_id"], reported["desk_status"]) == (order.client_order_id, "expired")
    assert [o.status for o in sim_orders(sim)] == ["NEW"]


def test_while_the_exchange_is_down_reconciliation_records_why_and_changes_nothing(desk, sim):
    account, market, _ = desk
    order = limit_order(account, market, price=D("59000"))
    cancel_on_exchange(sim, order)  # a change it would apply if the exchange answered
    sim.faults.down_for(30)

    report = orders_reconcile(account_id=account.pk)

    order.refresh_from_db()
    [summary] = events(account, "reconcile.completed")
    assert "not answering" in report.aborted and summary["aborted"] == report.aborted
    assert order.status == "open" and report.status_changes == 0
    assert venue_down_reason(account_id=account.pk)  # risk refuses entries meanwhile
    sim.faults.reset()


def test_one_orders_failure_is_recorded_and_the_other_orders_are_still_reconciled(desk, sim):
    account, market, _ = desk
    first, second = limit_order(account, market, price=D("59000")), limit_order(account, market, price=D("58000"))
    cancel_on_exchange(sim, first)
    cancel_on_exchange(sim, second)
    sim.faults.error_add(ErrorFault(status=400, code=-2013, path="/api/v3/order", method="GET"))  # first look-up only

    report = orders_reconcile(account_id=account.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("open", "canceled")
    assert [(f["client_order_id"], f["error_class"]) for f in report.failures] == [(first.client_order_id, "order_not_found")]
    assert not report.aborted
    assert orders_reconcile(account_id=account.pk).status_changes == 1  # the next run catches it up


def test_a_canceled_order_the_exchange_reported_partly_filled_is_checked_again_but_not_an_unfilled_one():
    account = account_make(name="live", mode="live")
    market = fresh_market(price=D("100"))

    def canceled(filled: str, age=timedelta(0)) -> Order:
        order = Order.objects.create(
            account=account,
            market=market,
            client_order_id=f"test-{next(_ids)}",
            side="buy",
            type="limit",
            price=D("100"),
            amount=D("1"),
            status="canceled",
        )
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - age)
        OrderEvent.objects.create(order=order, from_status="open", to_status="canceled", cause="x", data={"filled": filled})
        return order

    partly = canceled("0.4")
    canceled("0")
    canceled("0.4", age=timedelta(hours=25))  # settled too long ago

    assert orders_to_check(account_id=account.pk) == [partly]


def test_the_paper_venue_lists_its_resting_orders_and_paper_accounts_are_not_reconciled():
    account = account_make()
    market = fresh_market(price=D("100"))
    order = Order.objects.create(
        account=account, market=market, client_order_id="paper-limit", side="buy", type="limit", price=D("90"), amount=D("1")
    )
    order_submit(order_id=order.pk)

    [resting] = PaperVenue(account).open_orders_fetch(["BTC/USDT"])

    assert (resting.client_order_id, resting.amount, resting.price) == ("paper-limit", D("1"), D("90"))
    assert orders_reconcile(account_id=account.pk).skipped
    assert not Event.objects.filter(topic=reconcile_topic(account.pk)).exists()


@pytest.mark.usefixtures("eager_tasks")
def test_the_reconcile_beat_reconciles_every_sim_account_and_snapshots_the_corrected_book(desk, sim):
    account, market, _ = desk
    paper = account_make(name="paper")
    order = limit_order(account, market, price=D("59000"))
    cancel_on_exchange(sim, order)

    reconcile_all.delay()

    order.refresh_from_db()
    assert order.status == "canceled"
    assert [s["status_changes"] for s in events(account, "reconcile.completed")] == [1]
    assert not Event.objects.filter(topic=reconcile_topic(paper.pk)).exists()
    assert PortfolioSnapshot.objects.filter(account__in=[account, paper]).count() == 2


@pytest.mark.usefixtures("eager_tasks")
def test_the_reconcile_beat_survives_the_exchange_being_down(desk, sim):
    account, market, _ = desk
    order = limit_order(account, market, price=D("59000"))
    sim.faults.down_for(30)

    reconcile_all.delay()  # the balances sync finds it down first: no order look-up is even tried

    [summary] = events(account, "reconcile.completed")
    assert "not answering" in summary["aborted"] and summary["orders_checked"] == 0
    order.refresh_from_db()
    assert order.status == "open"
    sim.faults.reset()


def test_a_live_order_the_exchange_keeps_not_finding_is_settled_as_lost_with_a_critical_event(desk, sim):
    account, market, _ = desk
    phantom = Order.objects.create(  # what a malformed create reply used to leave: OPEN, no venue id
        account=account,
        market=market,
        client_order_id="phantom-1",
        side="sell",
        amount=D("0.01"),
        reduce_only=True,
        status="open",
        submitted_at=timezone.now() - timedelta(minutes=1),
    )

    runs = [orders_reconcile(account_id=account.pk) for _ in range(3)]

    phantom.refresh_from_db()
    assert [run.status_changes for run in runs] == [0, 0, 1]
    assert phantom.status == "expired" and phantom.reason.startswith("lost: the exchange has no order phantom-1")
    [lost] = Event.objects.filter(kind="order.lost").values_list("payload", flat=True)
    assert (lost["client_order_id"], lost["severity"], lost["status"]) == ("phantom-1", "critical", "expired")
    assert orders_reconcile(account_id=account.pk).orders_checked == 0  # no longer looked up every minute forever
    assert sim_orders(sim) == []


def test_an_order_found_again_starts_its_not_found_count_over(desk, sim):
    account, market, _ = desk
    order = limit_order(account, market, price=D("59000"))
    Order.objects.filter(pk=order.pk).update(submitted_at=timezone.now() - timedelta(minutes=1))
    not_found = ErrorFault(status=400, code=-2013, path="/api/v3/order", method="GET", remaining=2)
    sim.faults.error_add(not_found)
    orders_reconcile(account_id=account.pk)
    orders_reconcile(account_id=account.pk)
    orders_reconcile(account_id=account.pk)  # found: the count starts over
    sim.faults.error_add(ErrorFault(status=400, code=-2013, path="/api/v3/order", method="GET", remaining=2))

    orders_reconcile(account_id=account.pk)
    orders_reconcile(account_id=account.pk)

    order.refresh_from_db()
    assert order.status == "open" and not Event.objects.filter(kind="order.lost").exists()
