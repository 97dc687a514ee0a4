"""Signal -> risk -> order -> paper fill -> position, checked against a hand calculation."""

from decimal import Decimal as D

import pytest

from apps.common.models import Event
from apps.trading.models import Balance, Fill, Order, OrderEvent, Position
from apps.trading.services.orders import order_report_apply
from apps.trading.services.placement import signal_execute
from apps.trading.venues import VenueOrder, VenueTrade

from .factories import account_make, fresh_market, price_set, signal_make, strategy_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


def trade(signal, commit):
    with commit(execute=True):
        return signal_execute(signal_id=signal.pk)


def test_two_round_trips_leave_a_position_that_matches_the_hand_calculation(django_capture_on_commit_callbacks):
    account = account_make(fee_rate=D("0.001"))
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))  # fees come out of it

    trade(signal_make(strategy=strategy, market=market), django_capture_on_commit_callbacks)
    price_set(market, D("120"))
    trade(signal_make(strategy=strategy, market=market, side="sell", intent="close"), django_capture_on_commit_callbacks)
    price_set(market, D("125"))
    trade(signal_make(strategy=strategy, market=market), django_capture_on_commit_callbacks)
    price_set(market, D("110"))
    trade(signal_make(strategy=strategy, market=market, side="sell", intent="close"), django_capture_on_commit_callbacks)

    # By hand, fee 0.1 % in USDT: 1001 USDT buys 10 @ 100 (fee 1), 8 @ 125 (fee 1).
    # 10 @ 100 (fee 1) sold @ 120 (fee 1.2): +200 - 2.2 = 197.8;
    # 8 @ 125 (fee 1) sold @ 110 (fee 0.88): -120 - 1.88 = -121.88. Together +75.92, fees 4.08.
    position = Position.objects.get()
    assert [o.status for o in Order.objects.order_by("id")] == ["filled"] * 4
    assert position.amount == 0
    assert position.fees == D("4.08")
    assert position.realized_pnl == D("75.92")
    assert Balance.objects.get(asset="USDT").free == D("10075.92")


def test_an_entry_while_holding_is_refused_as_the_backtest_ignores_it(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    trade(signal_make(strategy=strategy, market=market), django_capture_on_commit_callbacks)

    price_set(market, D("90"))
    again = signal_make(strategy=strategy, market=market)
    assert trade(again, django_capture_on_commit_callbacks) is None

    again.refresh_from_db()
    assert again.status == "rejected"
    assert again.rejection_reason.startswith("already holding 10 BTC: the desk does not add")
    assert Position.objects.get().amount == D("10")


def test_an_open_position_keeps_its_average_entry_fees_and_protective_levels(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market(price=D("100"))
    strategy = strategy_make(
        account=account, markets=[market], allocation=D("1001"), stop_loss_pct=D("2"), trailing_stop_pct=D("3")
    )

    trade(signal_make(strategy=strategy, market=market, take_profit=D("110")), django_capture_on_commit_callbacks)

    position = Position.objects.get()
    assert (position.amount, position.average_entry, position.fees) == (D(10), D(100), D(1))
    assert position.realized_pnl == D(-1)
    assert (position.stop_loss, position.take_profit, position.trailing_stop_pct) == (D(98), D(110), D(3))


def test_every_change_writes_an_order_event_and_an_outbox_event(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market])
    trade(signal_make(strategy=strategy, market=market), django_capture_on_commit_callbacks)

    order = Order.objects.get()
    assert list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True)) == ["new", "submitting", "filled"]
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {
        "signal.created",
        "risk.allowed",
        "order.created",
        "order.submitting",
        "order.filled",
        "fill.applied",
        "position.changed",
    } <= kinds


def test_a_fill_reported_twice_is_applied_once(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    order = trade(signal_make(strategy=strategy, market=market), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    again = VenueOrder(
        order.venue_order_id,
        "closed",
        order.amount,
        order.amount,
        D(100),
        [VenueTrade(f"{order.venue_order_id}-1", D(100), order.amount, D(1), "USDT", order.created_at)],
    )

    order_report_apply(order_id=order.pk, report=again, cause="a late duplicate report")

    assert Fill.objects.count() == 1
    assert Position.objects.get().amount == D(10)


def test_a_sell_without_a_position_is_refused_with_the_reason(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market])
    signal = signal_make(strategy=strategy, market=market, side="sell", intent="close")
    assert trade(signal, django_capture_on_commit_callbacks) is None
    signal.refresh_from_db()
    assert signal.status == "rejected" and "no open BTC position to close" in signal.rejection_reason


def test_insufficient_paper_balance_rejects_the_order_without_retrying(django_capture_on_commit_callbacks):
    account = account_make(cash=D("50"))
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market], allocation=D("1000"))
    trade(signal_make(strategy=strategy, market=market), django_capture_on_commit_callbacks)

    order = Order.objects.get()
    assert order.status == "rejected" and "insufficient balance" in order.reason
    assert order.submit_attempts == 1


def test_amounts_are_rounded_down_to_whole_exchange_steps_whatever_the_stored_scale():
    from apps.trading.amounts import quantize_amount

    assert str(quantize_amount(D("0.0099833610648"), D("0.000010000000"))) == "0.00998"
    assert quantize_amount(D("7.9"), D("0.5")) == D("7.5")


def test_a_paper_limit_order_rests_until_the_price_crosses_it():
    from apps.trading.services.orders import order_submit
    from apps.trading.services.protection import price_updated

    account = account_make()
    market = fresh_market(price=D("100"))
    order = Order.objects.create(
        account=account, market=market, client_order_id="limit-1", side="buy", type="limit", price=D("95"), amount=D("1")
    )

    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "open" and order.filled == 0
    price_set(market, D("96"))
    price_updated(market_id=market.pk)
    order.refresh_from_db()
    assert order.status == "open"

    price_set(market, D("94.5"))
    price_updated(market_id=market.pk)

    order.refresh_from_db()
    assert order.status == "filled" and order.average_price == D("95")  # a resting limit fills at its price
    assert Position.objects.get().amount == D(1)
