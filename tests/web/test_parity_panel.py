"""The strategy page's parity panel: live fills beside the engine's backtest of the same period on
the same stored candles. Matched trades, the backtest's trades live missed, live trades the
backtest would not have made, and the P&L difference, each checked by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.markets.services import candles_store
from apps.strategies.models import StrategyEvaluation
from apps.trading.models import Fill, Order, Signal
from apps.web.parity import Trade, backtest_trades, compare, strategy_parity
from tests.markets.factories import collector_make
from tests.strategies.helpers import synthetic_rows
from tests.trading.factories import account_make, strategy_make

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_trades_are_matched_on_market_candle_and_side_and_the_pnl_difference_is_the_hand_calculation():
    live = [
        Trade("BTC/USDT", at(0), "buy", D("1"), D("100"), D("0.1")),
        Trade("BTC/USDT", at(5), "sell", D("1"), D("110"), D("0.11")),
        Trade("BTC/USDT", at(9), "sell", D("0.5"), D("108"), D("0.054")),  # a hand close: live only
    ]
    backtest = [
        Trade("BTC/USDT", at(0), "buy", D("1"), D("100"), D("0.1")),
        Trade("BTC/USDT", at(5), "sell", D("1"), D("110"), D("0.11")),
        Trade("BTC/USDT", at(7), "buy", D("1"), D("104"), D("0.104")),  # live missed it
    ]

    parity = compare(live, backtest, {"BTC/USDT": D("106")}, start=at(0), end=at(10))

    assert [(a.time, b.time) for a, b in parity.matched] == [(at(0), at(0)), (at(5), at(5))]
    assert [t.time for t in parity.missing] == [at(7)] and [t.time for t in parity.extra] == [at(9)]
    # live: -100 - 0.1 + 110 - 0.11 + 54 - 0.054, and -0.5 BTC held (sold more than bought) at 106
    assert parity.live_pnl == D("63.736") - D("53")
    # backtest: the same round trip (9.79), then 1 BTC bought at 104 (fee 0.104) worth 106
    assert parity.backtest_pnl == D("9.79") - D("104") - D("0.104") + D("106")
    assert parity.difference == D("10.736") - D("11.686")


@pytest.fixture
def traded_strategy():
    """An ema_cross strategy on 300 stored synthetic minutes, live since the 60th."""
    collector = collector_make()
    rows = synthetic_rows(count=300)
    candles_store(collector=collector, rows=rows)
    account = account_make(cash=D("10000"), fee_rate=D("0.001"))
    strategy = strategy_make(account=account, markets=[collector.market], kind="ema_cross", allocation=D("1000"))
    StrategyEvaluation.objects.create(strategy=strategy, market=collector.market, candle_time=rows[60].open_time, outcome="hold")
    return strategy, collector.market, rows[60].open_time, rows[-1].open_time + timedelta(minutes=1)


def live_fill(strategy, market, trade: Trade, n: int) -> None:
    signal = Signal.objects.create(
        strategy=strategy,
        account=strategy.account,
        market=market,
        candle_time=trade.time,
        side=trade.side,
        intent="open" if trade.side == "buy" else "close",
        price=trade.price,
        key=f"parity-{n}",
        status="placed",
    )
    order = Order.objects.create(
        account=strategy.account,
        market=market,
        strategy=strategy,
        signal=signal,
        client_order_id=f"parity-{n}",
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


def test_a_live_run_that_skipped_one_of_the_backtests_trades_shows_it_missing_and_what_it_cost(traded_strategy):
    strategy, market, start, end = traded_strategy
    backtested, marks = backtest_trades(strategy=strategy, start=start, end=end)
    assert len(backtested) >= 3, "the synthetic minutes must trade, or the comparison proves nothing"
    skipped = backtested[1]
    for n, trade in enumerate(backtested):
        if trade is not skipped:
            live_fill(strategy, market, trade, n)

    parity = strategy_parity(strategy=strategy, now=end)

    assert parity.problem == ""
    assert len(parity.matched) == len(backtested) - 1
    assert [t.key for t in parity.missing] == [skipped.key] and parity.extra == []
    sign = -1 if skipped.side == "buy" else 1
    mark = marks[market.symbol]
    skipped_pnl = sign * skipped.amount * skipped.price - skipped.fee_quote - sign * skipped.amount * mark
    assert parity.difference == -skipped_pnl


def test_a_strategy_never_run_live_has_nothing_to_compare(traded_strategy):
    strategy, *_ = traded_strategy
    StrategyEvaluation.objects.filter(strategy=strategy).delete()

    assert strategy_parity(strategy=strategy).problem == "Not evaluated live yet: nothing to compare."
