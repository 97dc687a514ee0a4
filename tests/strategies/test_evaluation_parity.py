"""The guarantee we sell: a strategy trades live exactly as it backtested. Each strategy in the
registry runs over the same candles twice: the backtest's way (signals() over the whole
history) and the live way (candle by candle through the collector's store, the hook and the
real strategy_evaluate task). The signals must be identical in time, side, price and size,
and on a paper account the orders filled must be the backtest's fills in time, side and amount
(so the positions are the same, not only the moments)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from apps.engine.strategies.registry import strategy_build, strategy_classes
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.selectors import candles_between
from apps.markets.services import candles_store
from apps.risk.services import kill_switch_set
from apps.strategies.services.evaluation import last_bar_signals
from apps.trading.models import Fill, Signal
from apps.trading.tasks import strategies_on_candles_closed
from tests.markets.factories import collector_make
from tests.trading.factories import account_make, strategy_make

from .helpers import synthetic_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]
LIVE_CANDLES = 240
# Params that make a strategy trade on the synthetic BTC path (defaults elsewhere).
PARAMS = {"grid": {"low": 45350.0, "high": 45650.0, "levels": 12}}


def stored_size(size: Decimal | None) -> Decimal | None:
    """A size as Signal.size keeps it (8 decimal places): grid buys 1/levels of the allocation."""
    return None if size is None else size.quantize(Decimal("1E-8"))


def backtest_arrays(kind: str, market, timeframe: str):
    """(candles, signal arrays) of the whole stored history, as the backtest computes them."""
    from apps.engine.strategies.timeframes import candles_resample

    engine = strategy_build(kind, PARAMS.get(kind, {}))
    history = candles_between(market=market, timeframe=timeframe)
    for informative in engine.informative_timeframes():
        history.informative[informative] = candles_resample(history, informative)
    return history, engine.signals(history)


def backtest_signals(kind: str, market, timeframe: str, first_live_index: int) -> list[tuple]:
    history, arrays = backtest_arrays(kind, market, timeframe)
    found = []
    for index in range(first_live_index, len(history)):
        for wanted in last_bar_signals(arrays, history, index):
            found.append((int(history.time[index]) // 1000, wanted.side, wanted.intent, wanted.price, stored_size(wanted.size)))
    return found


@pytest.mark.parametrize("kind", sorted(strategy_classes()))
def test_live_evaluation_emits_exactly_the_backtests_signals(kind, django_capture_on_commit_callbacks):
    engine = strategy_build(kind, PARAMS.get(kind, {}))
    warmup, timeframe = engine.warmup_period, engine.params.get("entry_timeframe", "1m")
    rows = synthetic_rows(count=warmup - 1 + LIVE_CANDLES, timeframe=timeframe)
    collector = collector_make(timeframe=timeframe)
    strategy = strategy_make(
        account=account_make(), markets=[collector.market], kind=kind, params=engine.params, timeframe=timeframe
    )
    kill_switch_set(actor=None, state="halted", reason="parity: signals only, no orders")
    candles_store(collector=collector, rows=rows[: warmup - 1])

    for row in rows[warmup - 1 :]:
        with django_capture_on_commit_callbacks(execute=True):
            inserted = candles_store(collector=collector, rows=[row])
            strategies_on_candles_closed(market_id=collector.market_id, timeframe=timeframe, open_times=inserted)

    live = [
        (int(s.candle_time.timestamp()), s.side, s.intent, s.price, s.size)
        for s in Signal.objects.filter(strategy=strategy).order_by("candle_time", "id")
    ]
    backtest = backtest_signals(kind, collector.market, timeframe, warmup - 1)
    print(f"PARITY {kind}: {len(live)} live, {len(backtest)} backtest signals")
    assert backtest, "no signal in the live window: the comparison would prove nothing"
    assert live == sorted(backtest, key=lambda s: s[0]) or _diff(live, backtest)
    assert strategy.evaluations.count() == LIVE_CANDLES
    assert not strategy.evaluations.filter(outcome="error").exists()


ALLOCATION, FEE = Decimal("1000"), Decimal("0.001")


def backtest_fills(kind: str, market, timeframe: str) -> list[tuple]:
    """(candle time, side, amount) of every fill of the backtest sized as the live strategy:
    fixed quote allocation with the fee inside, fills at the signal's close, spot (no shorts),
    nothing closed at the end of the data."""
    from apps.engine.backtest import CLOSE, BacktestConfig, backtest
    from apps.engine.fills import FeeSchedule, MarketRules
    from apps.engine.sizing import FIXED_QUOTE, Sizing

    history, arrays = backtest_arrays(kind, market, timeframe)
    rules = MarketRules(
        amount_step=float(market.amount_precision),
        price_tick=float(market.price_precision),
        min_notional=float(market.min_notional),
    )
    config = BacktestConfig(
        initial_balance=10_000.0,
        fees=FeeSchedule(maker=float(FEE), taker=float(FEE)),
        fill_at=CLOSE,
        sizing=Sizing(FIXED_QUOTE, float(ALLOCATION)),
        precision={market.symbol: rules},
        allow_short=False,
        close_at_end=False,
        compute_metrics=False,
    )
    result = backtest({market.symbol: history}, {market.symbol: arrays}, config)
    return [
        (fill.time // 1000, fill.side, Decimal(repr(fill.quantity)).quantize(market.amount_precision).normalize())
        for fill in result.fills
    ]


@pytest.mark.parametrize("kind", sorted(strategy_classes()))
def test_live_paper_trading_fills_exactly_the_backtests_orders(kind, django_capture_on_commit_callbacks):
    engine = strategy_build(kind, PARAMS.get(kind, {}))
    warmup, timeframe = engine.warmup_period, engine.params.get("entry_timeframe", "1m")
    period = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
    rows = synthetic_rows(count=warmup - 1 + LIVE_CANDLES, timeframe=timeframe)
    collector = collector_make(timeframe=timeframe)
    account = account_make(cash=Decimal("10000"), fee_rate=FEE, slippage_bps=Decimal("0"))
    strategy = strategy_make(
        account=account, markets=[collector.market], kind=kind, params=engine.params, timeframe=timeframe, allocation=ALLOCATION
    )
    candles_store(collector=collector, rows=rows[: warmup - 1])

    for row in rows[warmup - 1 :]:  # the clock moves with the candles, so the data is fresh as live
        with (
            time_machine.travel(row.open_time + period + timedelta(seconds=1), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            inserted = candles_store(collector=collector, rows=[row])
            strategies_on_candles_closed(market_id=collector.market_id, timeframe=timeframe, open_times=inserted)

    live = [
        (int(fill.order.signal.candle_time.timestamp()), fill.order.side, fill.amount.normalize())
        for fill in Fill.objects.filter(order__strategy=strategy).select_related("order__signal").order_by("id")
    ]
    backtest = backtest_fills(kind, collector.market, timeframe)
    print(f"FILL PARITY {kind}: {len(live)} live, {len(backtest)} backtest fills")
    assert backtest, "no fill in the live window: the comparison would prove nothing"
    assert live == backtest or _diff(live, backtest)


def _diff(live, backtest):
    only_live, only_backtest = set(live) - set(backtest), set(backtest) - set(live)
    pytest.fail(
        f"live and backtest differ: {len(live)} vs {len(backtest)} rows; only live: {sorted(only_live, key=repr)[:5]}, "
        f"only backtest: {sorted(only_backtest, key=repr)[:5]}"
    )
