"""Why a trade differs from the backtest, from what the desk recorded: an entry refused as stale,
one refused while the exchange was down, one never evaluated live because the collector stored
its candle late, the exits that follow them, and a person's close. 300 stored synthetic minutes, live since the 60th; the live fills
are written as the pipeline writes them."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest

from apps.markets.models import Candle
from apps.markets.services import candles_store
from apps.research.live_vs_backtest import backtest_trades, strategy_comparison
from apps.risk.models import RiskEvent
from apps.strategies.models import StrategyEvaluation
from apps.trading.models import Fill, Order, Signal
from tests.markets.factories import collector_make
from tests.strategies.helpers import synthetic_rows
from tests.trading.factories import account_make, strategy_make

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def traded():
    collector = collector_make()
    rows = synthetic_rows(count=300)
    candles_store(collector=collector, rows=rows)
    strategy = strategy_make(
        account=account_make(cash=D("10000"), fee_rate=D("0.001")), markets=[collector.market], kind="ema_cross"
    )
    for row in rows[60:]:  # evaluated live on every candle...
        StrategyEvaluation.objects.create(
            strategy=strategy, market=collector.market, candle_time=row.open_time, outcome="nothing"
        )
    return strategy, collector.market, rows[60].open_time, rows[-1].open_time + timedelta(minutes=1)


def signal_make(strategy, market, trade, n, *, status, source=Signal.Source.STRATEGY, reason=""):
    return Signal.objects.create(
        strategy=strategy,
        account=strategy.account,
        market=market,
        candle_time=trade.time,
        side=trade.side,
        intent="open" if trade.side == "buy" else "close",
        source=source,
        price=trade.price,
        key=f"reasons-{n}",
        status=status,
        rejection_reason=reason,
    )


def fill_make(strategy, market, trade, n, *, source=Signal.Source.STRATEGY):
    signal = signal_make(strategy, market, trade, n, status=Signal.Status.ACCEPTED, source=source)
    order = Order.objects.create(
        account=strategy.account,
        market=market,
        strategy=strategy,
        signal=signal,
        client_order_id=f"reasons-{n}",
        side=trade.side,
        amount=trade.amount,
        status="filled",
        filled=trade.amount,
        average_price=trade.price,
    )
    Fill.objects.create(
        order=order,
        venue_trade_id=f"t{n}",
        price=trade.price,
        amount=trade.amount,
        fee=trade.fee_quote,
        fee_currency="USDT",
        traded_at=trade.time,
    )


def refused(strategy, market, trade, n, *, rule, reason):
    signal = signal_make(strategy, market, trade, n, status=Signal.Status.REJECTED, reason=reason)
    RiskEvent.objects.create(
        account=strategy.account,
        strategy=strategy,
        signal=signal,
        decision=RiskEvent.Decision.REJECTED,
        rules=[rule],
        reason=reason,
    )


def test_each_missing_and_extra_trade_carries_the_reason_the_desk_recorded(traded):
    strategy, market, start, end = traded
    backtest, _ = backtest_trades(strategy=strategy, start=start, end=end)
    buys = [n for n, trade in enumerate(backtest) if trade.side == "buy" and n + 1 < len(backtest)]
    assert len(buys) >= 3, "three round trips at least, or the reasons prove nothing"
    stale, down, unseen = buys[0], buys[1], buys[2]
    assert all(backtest[n + 1].side == "sell" for n in (stale, down, unseen)), "each entry's exit comes next"
    skipped = {stale, stale + 1, down, down + 1, unseen, unseen + 1}
    for n, trade in enumerate(backtest):
        if n not in skipped:
            fill_make(strategy, market, trade, n)
    refused(
        strategy, market, backtest[stale], 1000, rule="stale_signal", reason="expired: a newer 1m candle closed after its candle"
    )
    refused(strategy, market, backtest[down], 1001, rule="venue_down", reason="the exchange is not answering (timeout)")
    StrategyEvaluation.objects.filter(strategy=strategy, candle_time=backtest[unseen].time).delete()
    # A person closes by hand on a candle where the backtest does nothing.
    hand_time = end - timedelta(minutes=1)  # the last candle, after every backtest trade
    assert hand_time > backtest[-1].time
    hand = replace(backtest[-1], time=hand_time, side="sell", amount=D("0.001"))
    fill_make(strategy, market, hand, 2000, source=Signal.Source.OPERATOR)

    found = strategy_comparison(strategy=strategy, since=start, until=end)

    why = {trade.time: reason for trade, reason in found.missing_explained}
    assert len(why) == 6 and len(found.matched) == len(backtest) - 6
    assert (why[backtest[stale].time].kind, why[backtest[stale].time].rule) == ("stale_entry", "stale_signal")
    assert (why[backtest[down].time].kind, why[backtest[down].time].rule) == ("outage", "venue_down")
    # Stored by one backfill long after they closed (the fixture's store): a gap in the market data.
    assert why[backtest[unseen].time].kind == "outage"
    assert why[backtest[unseen].time].detail.startswith("the collector stored this candle only at")
    assert {why[backtest[n + 1].time].kind for n in (stale, down, unseen)} == {"knock_on"}
    assert [(t.time, r.kind) for t, r in found.extra_explained] == [(hand.time, "operator")]


def test_a_window_counts_only_its_own_trades_and_the_position_it_opened_with_marked_at_its_start(traded):
    """A round trip live missed before the window is not the window's difference; the position
    held into it is valued at the close before it opened, on both sides alike."""
    strategy, market, start, end = traded
    backtest, marks = backtest_trades(strategy=strategy, start=start, end=end)
    k = next(n for n, trade in enumerate(backtest) if n >= 3 and trade.side == "sell")
    since = backtest[k].time  # its entry, backtest[k - 1], was bought before the window
    for n, trade in enumerate(backtest):
        if n not in (k - 3, k - 2):  # a whole round trip missed before the window
            fill_make(strategy, market, trade, n)

    found = strategy_comparison(strategy=strategy, since=since, until=end)

    assert (len(found.matched), found.missing, found.extra) == (len(backtest) - k, [], [])
    assert found.difference == 0
    open_mark = Candle.objects.filter(market=market, timeframe="1m", open_time__lt=since).order_by("-open_time").first().close
    inside = backtest[k:]
    cash = sum(((1 if t.side == "sell" else -1) * t.amount * t.price - t.fee_quote for t in inside), D(0))
    held_at_end = sum(((1 if t.side == "buy" else -1) * t.amount for t in backtest[k - 1 :]), D(0))
    assert found.live_pnl == cash + held_at_end * marks[market.symbol] - backtest[k - 1].amount * open_mark
