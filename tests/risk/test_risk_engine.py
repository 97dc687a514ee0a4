"""The risk engine on a real database: limits, kill switch, rogue strategies."""

import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from apps.risk.models import RiskEvent, RiskLimits
from apps.risk.services import kill_switch_set
from apps.strategies.models import Strategy
from apps.trading.models import Order, Signal
from apps.trading.services.placement import signal_execute
from tests.trading.factories import (
    account_make,
    fresh_market,
    signal_make,
    strategy_make,
)

pytestmark = pytest.mark.django_db


def execute(signal):
    return signal_execute(signal_id=signal.pk)


def within_one_second(signals: list[Signal]) -> list[Signal]:
    """The rogue's signals as it emitted them: all in the same second."""
    Signal.objects.filter(pk__in=[signal.pk for signal in signals]).update(created_at=timezone.now())
    return list(Signal.objects.filter(pk__in=[signal.pk for signal in signals]).order_by("pk"))


def test_a_rogue_strategy_is_held_by_the_caps_every_refusal_is_recorded_and_it_is_paused():
    account = account_make(cash=D("10000000"))
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market], allocation=D("10"))
    flood = within_one_second([signal_make(strategy=strategy, market=market) for _ in range(1000)])

    for signal in flood:
        execute(signal)

    strategy.refresh_from_db()
    assert Order.objects.count() == 1  # one position per market: the others would add to it
    rejected = Signal.objects.filter(status=Signal.Status.REJECTED)
    assert rejected.count() == 999
    assert not rejected.filter(rejection_reason="").exists()
    assert RiskEvent.objects.filter(decision="rejected").count() == 999
    assert rejected.filter(rejection_reason__startswith="already buying 0.0999 BTC").count() == 99
    capped = rejected.filter(rejection_reason__contains="signal rate cap reached")  # the default 100 a minute
    assert capped.count() == 900
    assert capped.exclude(rejection_reason__contains="strategy is not running").count() == 10  # then paused
    assert strategy.status == Strategy.Status.PAUSED
    assert "10 consecutive failures" in strategy.status_reason


def test_a_strategy_flipping_in_and_out_is_held_by_the_order_rate_cap(django_capture_on_commit_callbacks, eager_tasks):
    account = account_make(cash=D("10000000"))
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market], allocation=D("10"))
    RiskLimits.objects.create(strategy=strategy, max_orders_per_minute=1000)  # its signals are not capped
    RiskLimits.objects.create(account=account, max_orders_per_minute=20)

    for index in range(60):  # paper orders fill at once: buy, sell, buy, sell ...
        with django_capture_on_commit_callbacks(execute=True):
            side, intent = ("buy", "open") if index % 2 == 0 else ("sell", "close")
            execute(signal_make(strategy=strategy, market=market, side=side, intent=intent))

    assert Order.objects.filter(status="filled").count() == 20
    assert Signal.objects.filter(rejection_reason__contains="account order rate cap reached: 20 orders").exists()


def test_halted_lets_no_order_leave_and_reduce_only_lets_only_closing_orders():
    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market])
    kill_switch_set(actor=None, state="halted", reason="drill")  # the global switch

    assert execute(signal_make(strategy=strategy, market=market)) is None
    kill_switch_set(actor=None, state="active")
    kill_switch_set(actor=None, account=account, state="reduce_only")
    assert execute(signal_make(strategy=strategy, market=market)) is None
    reasons = list(Signal.objects.order_by("id").values_list("rejection_reason", flat=True))
    assert "HALTED" in reasons[0] and "REDUCE_ONLY" in reasons[1]
    assert RiskEvent.objects.filter(decision="action", rules=["kill_switch"]).count() == 3


def test_reduce_only_still_closes_a_position():
    from apps.trading.models import Position

    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market])
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))
    kill_switch_set(actor=None, account=account, state="reduce_only")

    order = execute(signal_make(strategy=strategy, market=market, side="sell", intent="close"))

    assert order is not None and order.reduce_only and order.amount == D("2")


def test_entries_are_refused_while_market_data_is_stale():
    from apps.markets.models import CollectorStatus

    account = account_make()
    market = fresh_market()
    CollectorStatus.objects.filter(market=market).update(last_candle_time=None)
    strategy = strategy_make(account=account, markets=[market])

    assert execute(signal_make(strategy=strategy, market=market)) is None
    assert "market data is stale" in Signal.objects.get().rejection_reason


def test_limits_set_per_strategy_override_the_accounts():
    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market], allocation=D("1000"))
    RiskLimits.objects.create(account=account, max_order_notional=D("5000"))
    RiskLimits.objects.create(strategy=strategy, max_order_notional=D("500"))

    assert execute(signal_make(strategy=strategy, market=market)) is None
    assert "exceeds max order notional 500" in Signal.objects.get().rejection_reason


def concurrently(work, batches) -> None:
    """Each batch in its own thread and database connection, all released at once."""
    barrier = threading.Barrier(len(batches))

    def run(batch):
        barrier.wait()
        try:
            work(batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    [thread.start() for thread in threads]
    [thread.join(timeout=120) for thread in threads]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_signals_that_only_fit_one_at_a_time_make_one_order():
    account = account_make(cash=D("10000"))
    markets = [fresh_market(symbol=symbol) for symbol in ("BTC/USDT", "ETH/USDT")]
    strategy = strategy_make(account=account, markets=markets, allocation=D("1000"))
    RiskLimits.objects.create(account=account, max_open_positions=1)  # either entry fits, not both
    signals = [signal_make(strategy=strategy, market=market) for market in markets]

    concurrently(execute, signals)

    assert Order.objects.count() == 1
    assert "max_open_positions" in RiskEvent.objects.get(decision="rejected").rules


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rogue_flood_placed_by_four_workers_at_once_still_makes_one_order_and_pauses_the_strategy():
    from apps.trading.services.placement import account_signals_place

    account = account_make(cash=D("10000000"))
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market], allocation=D("10"))
    flood = [signal.pk for signal in within_one_second([signal_make(strategy=strategy, market=market) for _ in range(1000)])]

    concurrently(lambda ids: account_signals_place(account_id=account.pk, signal_ids=ids), [flood[i::4] for i in range(4)])

    strategy.refresh_from_db()
    assert Order.objects.count() == 1
    assert not Signal.objects.filter(status=Signal.Status.PENDING).exists()
    assert Signal.objects.filter(status=Signal.Status.REJECTED).exclude(rejection_reason="").count() == 999
    assert RiskEvent.objects.filter(decision="rejected").count() == 999
    assert strategy.status == Strategy.Status.PAUSED


def test_an_order_placed_before_the_halt_does_not_leave_after_it():
    from apps.trading.services.orders import order_submit

    account = account_make()
    market = fresh_market()
    strategy = strategy_make(account=account, markets=[market])
    order = execute(signal_make(strategy=strategy, market=market))  # NEW, not sent yet
    kill_switch_set(actor=None, account=account, state="halted", reason="drill")

    order_submit(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "rejected" and "HALTED" in order.reason and not order.venue_order_id
