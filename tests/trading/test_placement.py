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
from apps.trading.services.placement import (
    account_signals_place,
    signal_execute,
    signals_place,
    signals_sweep,
)
from apps.trading.services.signals import client_order_id_for

from .factories import account_make, fresh_market, price_set, signal_make, strategy_make

pytestmark = pytest.mark.django_db


SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT"]


def desk(name: str, cash=D("10000"), allocation=D("1000"), markets: int = 1):
    account = account_make(name=name, cash=cash)
    traded = [fresh_market(symbol=symbol) for symbol in SYMBOLS[:markets]]
    return account, traded, strategy_make(account=account, markets=traded, allocation=allocation)


def entries(strategy, markets) -> list[Signal]:
    return [signal_make(strategy=strategy, market=market) for market in markets]


def test_a_batch_lets_through_only_the_signals_that_fit_a_limit_one_after_another():
    account, markets, strategy = desk("batch", markets=3)
    RiskLimits.objects.create(account=account, max_open_positions=2)  # two entries fit, not three
    signals = entries(strategy, markets)

    placed = signals_place(signal_ids=[signal.pk for signal in signals])

    assert [placed[signal.pk] is not None for signal in signals] == [True, True, False]
    assert Order.objects.count() == 2
    assert "max_open_positions" in RiskEvent.objects.get(decision="rejected").rules
    assert Signal.objects.get(pk=signals[2].pk).status == Signal.Status.REJECTED


def test_a_second_entry_in_the_same_batch_sees_the_first_one_already_buying():
    _, [market], strategy = desk("twice")
    first, second = entries(strategy, [market, market])

    placed = signals_place(signal_ids=[first.pk, second.pk])

    assert placed[first.pk].amount == D("9.99") and placed[second.pk] is None  # 1000 / (100 + 0.1 % fee)
    assert Signal.objects.get(pk=second.pk).rejection_reason.startswith("already buying 9.99 BTC")


def test_a_batch_counts_its_own_orders_toward_the_rate_cap():
    account, markets, strategy = desk("rate", cash=D("10000000"), allocation=D("10"), markets=5)
    RiskLimits.objects.create(account=account, max_orders_per_minute=3)

    signals_place(signal_ids=[signal.pk for signal in entries(strategy, markets)])

    assert Order.objects.count() == 3
    assert Signal.objects.filter(rejection_reason__contains="order rate cap reached: 3 orders in the last minute").count() == 2


def test_a_second_close_in_the_same_batch_sees_the_first_one_already_selling():
    account, [market], strategy = desk("close")
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))
    closes = [signal_make(strategy=strategy, market=market, side="sell", intent="close") for _ in range(2)]

    placed = signals_place(signal_ids=[signal.pk for signal in closes])

    assert placed[closes[0].pk].amount == D("2")
    assert placed[closes[1].pk] is None
    assert "no open BTC position to close" in Signal.objects.get(pk=closes[1].pk).rejection_reason


def test_a_batch_writes_the_same_rows_and_outbox_events_in_the_same_order_as_one_by_one():
    def history(account, markets, strategy, place):
        RiskLimits.objects.create(account=account, max_open_positions=5, max_orders_per_minute=2)
        signals = entries(strategy, markets + markets[:1])  # the last one while buying the first market
        signals.append(signal_make(strategy=strategy, market=markets[0], side="sell", intent="open"))
        Event.objects.all().delete()
        place([signal.pk for signal in signals])
        events = [
            (event.kind, event.payload.get("reason") or event.payload.get("status")) for event in Event.objects.order_by("id")
        ]
        orders = list(OrderEvent.objects.filter(order__account=account).values_list("to_status", "cause"))
        return events, [cause.split(":", 1)[1] for _, cause in orders], Order.objects.filter(account=account).count()

    one = history(*desk("one", markets=3), lambda ids: [signal_execute(signal_id=pk) for pk in ids])
    batch = history(*desk("batch", markets=3), lambda ids: signals_place(signal_ids=ids))

    assert batch == one
    assert one[2] == 2 and [kind for kind, _ in one[0]].count("order.created") == 2


def test_a_large_batch_writes_exactly_the_rows_and_outbox_events_of_one_by_one_each_event_naming_its_row():
    """Twelve signals: enough rows for the batch to write them in bulk (COPY on PostgreSQL), with
    a strategy fault in the middle (the rows so far written before the failure is counted)."""
    markets = [fresh_market(symbol=f"LARGE{index}/USDT") for index in range(10)]
    IDS = {"signal", "order", "client_order_id", "risk_event", "strategy"}  # noqa: N806 - a constant of the test

    def history(name, place):
        account = account_make(name=name, cash=D("10000000"))
        strategy = strategy_make(account=account, markets=markets, allocation=D("123.456789"))
        RiskLimits.objects.create(account=account, max_open_positions=8)  # eight entries fit
        signals = entries(strategy, markets[:8])
        signals.append(signal_make(strategy=strategy, market=markets[8], price=D("150")))  # 50 % off the last price
        signals += [*entries(strategy, markets[8:]), signal_make(strategy=strategy, market=markets[0])]  # no room, buying
        Event.objects.all().delete()
        place([signal.pk for signal in signals])
        orders = list(Order.objects.filter(account=account).order_by("id"))
        risk = list(RiskEvent.objects.filter(account=account).order_by("id"))
        names = {("signal", signal.pk): f"signal {index}" for index, signal in enumerate(signals)}
        names |= {("order", order.pk): f"order {index}" for index, order in enumerate(orders)}
        names |= {("client_order_id", order.client_order_id): f"order {index}'s id" for index, order in enumerate(orders)}
        names |= {("risk_event", event.pk): f"risk event {index}" for index, event in enumerate(risk)}
        names[("strategy", strategy.pk)] = "the strategy"

        def named(payload: dict) -> dict:
            """Ids by what they name, a cause without its signal's id, no candle time (the second
            history's signals are younger)."""
            named = {k: names.get((k, v), v) if k in IDS else v for k, v in payload.items() if k != "time"}
            return named | ({"cause": named["cause"].split(":", 1)[1]} if "cause" in named else {})

        rows = {
            "risk events": [
                (names["signal", e.signal_id], e.decision, e.rules, e.reason, e.checks, e.created_at is not None) for e in risk
            ],
            "orders": [
                (names["signal", o.signal_id], o.client_order_id == client_order_id_for(o.signal), o.side, o.amount, o.price)
                + (o.status, o.type, o.reduce_only, o.filled, o.venue_order_id, o.strategy_id == strategy.pk)
                for o in orders
            ],
            "order events": [
                (names["order", e.order_id], e.from_status, e.to_status, e.cause.split(":", 1)[1], e.data)
                for e in OrderEvent.objects.filter(order__account=account).order_by("id")
            ],
            "outbox": [
                (e.kind, e.topic.replace(str(account.pk), "<account>"), named(e.payload)) for e in Event.objects.order_by("id")
            ],
            "signals": [Signal.objects.values_list("status", "rejection_reason").get(pk=signal.pk) for signal in signals],
        }
        strategy.refresh_from_db()
        return rows, strategy.consecutive_failures

    one = history("large-one", lambda ids: [signal_execute(signal_id=pk) for pk in ids])
    batch = history("large-batch", lambda ids: signals_place(signal_ids=ids))

    assert batch == one
    rows, failures = batch
    assert len(rows["orders"]) == 8 and len(rows["risk events"]) == 12 and failures == 1
    assert [kind for kind, _, _ in rows["outbox"]].count("order.created") == 8
    assert rows["orders"][0][3] == D("1.2333")  # 123.456789 / (100 x 1.001) = 1.23333..., down to the step 0.0001


def test_a_signal_already_placed_returns_its_order_and_places_nothing_more():
    _, [market], strategy = desk("again")
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
    Candle.objects.create(
        market=market, timeframe="5m", open_time=later, open=D(1), high=D(1), low=D(1), close=D("102.5"), volume=D(1)
    )
    Candle.objects.create(
        market=market,
        timeframe="1h",
        open_time=later - timedelta(hours=1),
        open=D(1),
        high=D(1),
        low=D(1),
        close=D("99"),
        volume=D(1),
    )

    assert last_price(market=market) == D("102.5")


def backdate(signal: Signal, seconds: int, *, candle_too: bool = False) -> None:
    then = timezone.now() - timedelta(seconds=seconds)
    Signal.objects.filter(pk=signal.pk).update(created_at=then, **({"candle_time": then} if candle_too else {}))


def test_strategies_evaluated_together_are_placed_in_one_go_by_whoever_comes_first():
    account, markets, strategy = desk("together", markets=2)
    other = strategy_make(account=account, markets=markets[1:])
    mine, theirs = signal_make(strategy=strategy, market=markets[0]), signal_make(strategy=other, market=markets[1])

    account_signals_place(account_id=account.pk, signal_ids=[mine.pk])

    assert Order.objects.filter(signal__in=[mine, theirs]).count() == 2
    assert signals_place(signal_ids=[theirs.pk])[theirs.pk].signal_id == theirs.pk  # the second finds it done


def test_a_signal_a_lost_worker_left_pending_is_placed_by_the_sweep():
    _, [market], strategy = desk("lost")
    signal = signal_make(strategy=strategy, market=market)
    backdate(signal, 15)

    assert signals_sweep() == {"signals_swept": 1, "signals_failed": 0}
    assert Order.objects.get().signal_id == signal.pk


def test_an_entry_left_pending_until_a_newer_candle_closed_is_refused_with_the_reason_not_traded_late():
    _, [market], strategy = desk("late")
    signal = signal_make(strategy=strategy, market=market)
    backdate(signal, 300, candle_too=True)  # the market's newest candle opened a minute ago

    signals_sweep()

    signal.refresh_from_db()
    assert signal.status == Signal.Status.REJECTED and not Order.objects.exists()
    assert signal.rejection_reason.startswith("expired: a newer 1m candle")
    assert "a late entry would trade on a stale decision" in signal.rejection_reason


def test_a_close_left_pending_is_placed_whatever_its_age():
    account, [market], strategy = desk("exit")
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))
    close = signal_make(strategy=strategy, market=market, side="sell", intent="close")
    backdate(close, 300, candle_too=True)

    signals_sweep()

    assert Order.objects.get().amount == D("2")


def test_a_close_waits_while_its_entrys_fills_are_not_in_then_the_sweep_closes():
    account, [market], strategy = desk("waits")
    entry = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    Order.objects.filter(pk=entry.pk).update(status="filled")  # the exchange filled it; the trades fetch failed
    close = signal_make(strategy=strategy, market=market, side="sell", intent="close")

    assert signal_execute(signal_id=close.pk) is None
    assert Signal.objects.get(pk=close.pk).status == Signal.Status.PENDING
    assert signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk) is None  # and no second entry

    Position.objects.create(account=account, market=market, amount=entry.amount, average_entry=D("100"))  # reconciled
    Order.objects.filter(pk=entry.pk).update(filled=entry.amount)
    backdate(close, 15)
    signals_sweep()

    assert Order.objects.get(signal=close).amount == entry.amount


def test_a_fresh_paper_account_sizes_with_the_paper_brokers_default_fee_and_slippage():
    from apps.trading.models import PaperSettings

    account, [market], strategy = desk("fresh-paper", cash=D("1000"), allocation=D("1000"))
    PaperSettings.objects.filter(account=account).delete()  # as an account made in the admin
    signal = signal_make(strategy=strategy, market=market)

    order = signal_execute(signal_id=signal.pk)

    # 1000 / (100 x (1 + 5 bps) x (1 + 0.1 %)) = 9.9850... -> 9.985 in steps of 0.0001
    assert order.amount == D("9.985")


def test_a_strategy_on_many_markets_is_not_capped_by_one_signal_per_market(eager_tasks):
    account, _, strategy = desk("wide", cash=D("10000000"), allocation=D("10"))
    markets = [fresh_market(symbol=f"W{index}/USDT") for index in range(120)]
    strategy.markets.set(markets)
    exits = [signal_make(strategy=strategy, market=market, side="sell", intent="close") for market in markets]

    signals_place(signal_ids=[signal.pk for signal in exits])

    assert not Signal.objects.filter(rejection_reason__contains="signal rate cap").exists()
    strategy.refresh_from_db()
    assert strategy.status == "running"
    assert signals_sweep() == {"signals_swept": 0, "signals_failed": 0}  # and the sweep copes with 120 markets


def test_an_entry_may_follow_a_close_already_on_its_way_as_in_the_backtest():
    account, [market], strategy = desk("reversal")
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))
    close = signal_make(strategy=strategy, market=market, side="sell", intent="close")
    entry = signal_make(strategy=strategy, market=market)

    placed = signals_place(signal_ids=[close.pk, entry.pk])

    assert placed[close.pk].amount == D("2") and placed[entry.pk].amount == D("9.99")


@pytest.mark.parametrize("close_status, venue_order_id", [("unknown", ""), ("open", "")])
def test_a_close_the_exchange_may_not_have_does_not_let_a_second_entry_in(close_status, venue_order_id):
    account, [market], strategy = desk(f"phantom-{close_status}")
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))
    Order.objects.create(
        account=account,
        market=market,
        client_order_id=f"close-{close_status}",
        side="sell",
        reduce_only=True,
        amount=D("2"),
        price=D("100"),
        status=close_status,
        venue_order_id=venue_order_id,
    )
    entry = signal_make(strategy=strategy, market=market)

    placed = signals_place(signal_ids=[entry.pk])

    assert placed[entry.pk] is None
    assert Signal.objects.get(pk=entry.pk).rejection_reason.startswith("already holding 2 BTC")


def test_dust_is_no_open_position_it_neither_blocks_an_entry_nor_can_be_closed():
    account, [market], strategy = desk("dust")  # step 0.0001, minimum notional 5 USDT, price 100
    dust = Position.objects.create(
        account=account, market=market, amount=D("0.0004"), average_entry=D("100"), last_price=D("100")
    )
    close = signal_make(strategy=strategy, market=market, side="sell", intent="close")
    entry = signal_make(strategy=strategy, market=market)

    placed = signals_place(signal_ids=[close.pk, entry.pk])

    assert placed[close.pk] is None and placed[entry.pk].amount == D("9.99")
    assert "0.0004 BTC is dust" in Signal.objects.get(pk=close.pk).rejection_reason
    assert (dust.is_open, dust.is_dust, dust.tradable_amount) == (False, True, 0)
    assert list(Position.objects.open()) == [] and list(Position.objects.dust()) == [dust]
