"""A candle that touches both the stop and the target: which came first?"""

from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule
from tests.engine.backtest_support import candles_from_rows, signals_at

FLAT = (100, 101, 99, 100)
BOTH_TOUCHED = (100, 105, 97, 100)  # stop 98 and target 104 both inside this hour


def minutes_inside_hour(hour: int, path):
    """60 one-minute candles inside hour `hour`: the path's prices one per minute (flat after)."""
    prices = list(path) + [path[-1]] * (60 - len(path))
    rows, previous = [], 100.0
    for price in prices:
        rows.append((previous, max(previous, price), min(previous, price), price))
        previous = price
    hour_start = candles_from_rows([FLAT] * (hour + 1)).time[hour]
    return candles_from_rows(rows, timeframe_ms=60_000, timeframe="1m", start_ms=hour_start)


def run(detail=None):
    hourly = candles_from_rows([FLAT, FLAT, BOTH_TOUCHED, FLAT])
    config = BacktestConfig(fees=FeeSchedule(0.0, 0.0), stop_loss_pct=0.02, take_profit_pct=0.04)
    signals = {"BTC/USDT": signals_at(4, entry_long=[0])}
    return backtest({"BTC/USDT": hourly}, signals, config, detail={"BTC/USDT": detail} if detail else None)


def test_the_minutes_inside_decide_when_the_target_came_first():
    minutes = minutes_inside_hour(2, [102, 104.5, 101, 97.5, 100])
    (trade,) = run(minutes).trades
    assert (trade.exit_reason, trade.exit_price) == ("take_profit", 104)


def test_the_minutes_inside_decide_when_the_stop_came_first():
    minutes = minutes_inside_hour(2, [99, 97.5, 101, 104.5, 100])
    (trade,) = run(minutes).trades
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", 98)


def test_without_lower_timeframe_data_the_stop_is_assumed():
    (trade,) = run().trades
    assert (trade.exit_reason, trade.exit_price, trade.exit_bar) == ("stop_loss", 98, 2)


def test_one_minute_touching_both_is_still_ambiguous_and_counts_as_the_stop():
    minutes = minutes_inside_hour(2, [100])
    minutes.high[0], minutes.low[0] = 105, 97
    (trade,) = run(minutes).trades
    assert trade.exit_reason == "stop_loss"
