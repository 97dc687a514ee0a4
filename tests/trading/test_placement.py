"""Batched placement: several pending signals of an account placed under one lock in one
transaction decide exactly as they would one by one."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.common.models import Event
from apps.markets.models import Candle
from apps.risk.models import RiskEvent, RiskLimits
from apps.trading.models import Order, OrderEvent, Position, Signal
from apps.trading.selectors import last_price
from apps.trading.services.placement import signal_execute, signals_place

from .factories import account_make, fresh_market, price_set, signal_make, strategy_make

pytestmark = pytest.mark.django_db


def desk(name: str, cash=D("10000"), allocation=D("1000")):
    account = account_make(name=name, cash=cash)
    market = fresh_market()
    return account, market, strategy_make(account=account, markets=[market], allocation=allocation)


def test_a_batch_lets_through_only_the_signals_that_fit_a_limit_one_after_another():
    account, market, strategy = desk("batch")
    RiskLimits.objects.create(account=account, max_position_pct=D("25"))  # two orders of 1000 fit, not three
    signals = [signal_make(strategy=strategy, market=market) for _ in range(3)]

    placed = signals_place(signal_ids=[signal.pk for signal in signals])

    assert [placed[signal.pk] is not None for signal in signals] == [True, True, False]
    assert Order.objects.count() == 2
    assert "max_position_pct" in RiskEvent.objects.get(decision="rejected").rules
    assert Signal.objects.get(pk=signals[2].pk).status == Signal.Status.REJECTED


def test_a_batch_counts_its_own_orders_toward_the_rate_cap():
    account, market, strategy = desk("rate", cash=D("10000000"), allocation=D("10"))
    RiskLimits.objects.create(account=account, max_orders_per_minute=3)

    signals_place(signal_ids=[signal_make(strategy=strategy, market=market).pk for _ in range(5)])

    assert Order.objects.count() == 3
    assert Signal.objects.filter(rejection_reason__contains="order rate cap reached: 3 orders in the last minute").count() == 2


def test_a_second_close_in_the_same_batch_sees_the_first_one_already_selling():
    account, market, strategy = desk("close")
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))
    closes = [signal_make(strategy=strategy, market=market, side="sell", intent="close") for _ in range(2)]

    placed = signals_place(signal_ids=[signal.pk for signal in closes])

    assert placed[closes[0].pk].amount == D("2")
    assert placed[closes[1].pk] is None
    assert "no open BTC position to close" in Signal.objects.get(pk=closes[1].pk).rejection_reason


def test_a_batch_writes_the_same_rows_and_outbox_events_in_the_same_order_as_one_by_one():
    def history(account, market, strategy, place):
        RiskLimits.objects.create(account=account, max_open_positions=5, max_orders_per_minute=2)
        signals = [signal_make(strategy=strategy, market=market) for _ in range(3)]
        signals.append(signal_make(strategy=strategy, market=market, side="sell", intent="open"))
        Event.objects.all().delete()
        place([signal.pk for signal in signals])
        events = [(event.kind, event.payload.get("reason") or event.payload.get("status")) for event in Event.objects.order_by("id")]
        orders = list(OrderEvent.objects.filter(order__account=account).values_list("to_status", "cause"))
        return events, [cause.split(":", 1)[1] for _, cause in orders], Order.objects.filter(account=account).count()

    one = history(*desk("one"), lambda ids: [signal_execute(signal_id=pk) for pk in ids])
    batch = history(*desk("batch"), lambda ids: signals_place(signal_ids=ids))

    assert batch == one
    assert one[2] == 2 and [kind for kind, _ in one[0]].count("order.created") == 2


def test_a_signal_already_placed_returns_its_order_and_places_nothing_more():
    _, market, strategy = desk("again")
    signal = signal_make(strategy=strategy, market=market)
    first = signal_execute(signal_id=signal.pk)

    again = signals_place(signal_ids=[signal.pk])

    assert again[signal.pk] == first
    assert Order.objects.count() == 1 and RiskEvent.objects.count() == 1


def test_the_last_price_is_the_newest_of_the_ticker_and_any_timeframes_last_close():
    market = fresh_market(price=D("100"))
    price_set(market, D("101"))
    assert last_price(market=market) == D("101")

    later = timezone.now() + timedelta(minutes=5)
    Candle.objects.create(market=market, timeframe="5m", open_time=later, open=D(1), high=D(1), low=D(1), close=D("102.5"), volume=D(1))
    Candle.objects.create(market=market, timeframe="1h", open_time=later - timedelta(hours=1), open=D(1), high=D(1), low=D(1),
                          close=D("99"), volume=D(1))

    assert last_price(market=market) == D("102.5")
