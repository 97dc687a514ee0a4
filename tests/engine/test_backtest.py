"""The backtest engine, candle by candle on small hand-made markets."""

import numpy as np
import pytest

from apps.engine.backtest import BacktestConfig, BacktestInputError, backtest
from apps.engine.fills import FeeSchedule, MarketRules
from apps.engine.risk import Protections
from apps.engine.sizing import Sizing
from tests.engine.backtest_support import (
    EmaCrossTestStrategy,
    candles_from_rows,
    random_walk_candles,
    signals_at,
)

NO_FEES = FeeSchedule(maker=0.0, taker=0.0)
FLAT = (100, 101, 99, 100)


def run(rows, signals, **config):
    candles = candles_from_rows(rows)
    config.setdefault("fees", NO_FEES)
    return backtest({"BTC/USDT": candles}, {"BTC/USDT": signals(len(rows))}, BacktestConfig(**config))


def test_it_buys_at_the_next_candles_open_and_sells_at_the_open_after_the_exit_signal():
    rows = [FLAT, (102, 103, 101, 102), (104, 106, 103, 105), (110, 111, 109, 110)]
    result = run(rows, lambda n: signals_at(n, entry_long=[0], exit_long=[2]))
    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price, trade.exit_bar, trade.exit_price) == (1, 102, 3, 110)
    assert trade.pnl == pytest.approx(10_000 / 102 * 8)
    assert result.final_equity == pytest.approx(10_000 / 102 * 110)


def test_it_can_fill_at_the_signal_candles_close_instead():
    rows = [FLAT, (102, 103, 101, 102), (104, 106, 103, 105), (110, 111, 109, 110)]
    result = run(rows, lambda n: signals_at(n, entry_long=[0], exit_long=[2]), fill_at="close")
    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price, trade.exit_bar, trade.exit_price) == (0, 100, 2, 105)


def test_it_pays_taker_fees_on_both_legs_and_slippage_against_the_trader():
    rows = [FLAT, FLAT, FLAT, FLAT]
    fees = FeeSchedule(maker=0.0005, taker=0.001, slippage_bps=10)
    result = run(rows, lambda n: signals_at(n, entry_long=[0], exit_long=[1]), fees=fees)
    (trade,) = result.trades
    assert trade.entry_price == pytest.approx(100.1)
    assert trade.exit_price == pytest.approx(99.9)
    quantity = 10_000 / (100.1 * 1.001)
    assert trade.fees == pytest.approx(quantity * (100.1 + 99.9) * 0.001)
    assert result.final_equity == pytest.approx(10_000 + quantity * (99.9 - 100.1) - trade.fees)


def test_a_short_profits_when_the_price_falls():
    rows = [FLAT, FLAT, (90, 91, 89, 90), (80, 81, 79, 80)]
    result = run(rows, lambda n: signals_at(n, entry_short=[0], exit_short=[2]))
    (trade,) = result.trades
    assert trade.side == "short"
    assert trade.pnl == pytest.approx(100 * 20)
    assert result.final_equity == pytest.approx(12_000)


def test_a_stop_inside_the_candle_fills_at_the_stop_price():
    rows = [FLAT, FLAT, (99, 100, 96, 97), FLAT]
    result = run(rows, lambda n: signals_at(n, entry_long=[0]), stop_loss_pct=0.02)
    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (2, 98, "stop_loss")


def test_a_gap_through_the_stop_fills_at_the_open_not_the_stop():
    rows = [FLAT, FLAT, (90, 92, 89, 91), FLAT]
    result = run(rows, lambda n: signals_at(n, entry_long=[0]), stop_loss_pct=0.02)
    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (2, 90, "stop_loss")


def test_a_take_profit_is_a_limit_order_paying_the_maker_fee():
    rows = [FLAT, FLAT, (101, 106, 100, 105), FLAT]
    fees = FeeSchedule(maker=0.0, taker=0.001)
    result = run(rows, lambda n: signals_at(n, entry_long=[0]), take_profit_pct=0.04, fees=fees)
    (fill_in, fill_out) = result.fills
    assert (fill_out.price, fill_out.reason, fill_out.liquidity, fill_out.fee) == (104, "take_profit", "maker", 0.0)
    assert fill_in.liquidity == "taker"


def test_a_trailing_stop_follows_the_highs_of_the_candles_before():
    rows = [FLAT, FLAT, (100, 110, 100, 109), (109, 109, 104, 105), FLAT]
    result = run(rows, lambda n: signals_at(n, entry_long=[0]), trailing_stop_pct=0.05)
    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, pytest.approx(104.5), "trailing_stop")


def test_the_strategys_own_stop_price_wins_over_the_configured_percent():
    rows = [FLAT, FLAT, (99, 100, 94, 95), FLAT]
    result = run(rows, lambda n: signals_at(n, entry_long=[0], stop_loss={0: 95.0}), stop_loss_pct=0.02)
    assert result.trades[0].exit_price == 95.0


def test_amounts_are_floored_to_the_step_and_small_orders_are_skipped_with_a_reason():
    rows = [FLAT] * 6
    rules = MarketRules(amount_step=0.01, min_notional=5_000)
    sized = run(
        rows,
        lambda n: signals_at(n, entry_long=[0], exit_long=[1]),
        precision={"BTC/USDT": rules},
        sizing=Sizing("fixed_quote", 1234.0),
        initial_balance=100_000,
    )
    assert sized.trades == [] and sized.skipped_counts == {"below_min_notional": 1}
    kept = run(
        rows,
        lambda n: signals_at(n, entry_long=[0], exit_long=[1]),
        precision={"BTC/USDT": MarketRules(amount_step=0.01)},
        sizing=Sizing("fixed_quote", 1234.0),
    )
    assert kept.trades[0].quantity == 12.34


def test_risk_sizing_loses_the_chosen_share_of_equity_when_the_stop_hits():
    rows = [FLAT, FLAT, (99, 100, 89, 90), FLAT]
    result = run(rows, lambda n: signals_at(n, entry_long=[0]), stop_loss_pct=0.1, sizing=Sizing("risk_percent", 0.01))
    assert result.trades[0].pnl == pytest.approx(-100.0)


def test_an_order_larger_than_the_cash_is_reduced_and_marked_partial():
    rows = [FLAT] * 4
    result = run(rows, lambda n: signals_at(n, entry_long=[0], exit_long=[2]), sizing=Sizing("fixed_quote", 50_000.0))
    (trade,) = result.trades
    assert trade.partial and trade.quantity == pytest.approx(100) and trade.requested_quantity == pytest.approx(500)


def test_markets_share_one_cash_balance_and_max_open_positions_holds():
    candles = {name: candles_from_rows([FLAT] * 5) for name in ("ADA/USDT", "BTC/USDT", "ETH/USDT")}
    signals = {name: signals_at(5, entry_long=[0], exit_long=[3]) for name in candles}
    config = BacktestConfig(fees=NO_FEES, sizing=Sizing("percent_equity", 0.5), protections=Protections(max_open_positions=2))
    result = backtest(candles, signals, config)
    assert [trade.market for trade in result.trades] == ["ADA/USDT", "BTC/USDT"]
    assert [trade.quantity for trade in result.trades] == [pytest.approx(50), pytest.approx(50)]
    assert result.skipped_counts == {"max_open_positions": 1}


def test_no_entry_during_the_cooldown_after_a_stop():
    rows = [FLAT, FLAT, (99, 100, 96, 97), FLAT, FLAT, FLAT, FLAT]
    signals = lambda n: signals_at(n, entry_long=[0, 3, 5], exit_long=[4])
    result = run(rows, signals, stop_loss_pct=0.02, protections=Protections(cooldown_after_stop_ms=3 * 3_600_000))
    assert [trade.entry_bar for trade in result.trades] == [1, 6]
    assert result.skipped_counts == {"cooldown_after_stop": 1}


def test_entries_pause_after_the_max_drawdown():
    rows = [FLAT, FLAT, (80, 81, 79, 80), FLAT, FLAT, FLAT]
    signals = lambda n: signals_at(n, entry_long=[0, 3], exit_long=[1, 4])
    result = run(rows, signals, protections=Protections(max_drawdown=0.1, drawdown_pause_ms=10 * 3_600_000))
    assert len(result.trades) == 1 and result.skipped_counts == {"max_drawdown_pause": 1}


def test_the_equity_curve_is_valued_at_every_close():
    rows = [FLAT, (100, 111, 99, 110), (110, 121, 109, 120), (120, 121, 119, 120)]
    result = run(rows, lambda n: signals_at(n, entry_long=[0]), close_at_end=False)
    np.testing.assert_allclose(result.equity, [10_000, 11_000, 12_000, 12_000])
    assert result.open_positions[0].unrealised_pnl == pytest.approx(2_000)


def test_a_strategy_object_computes_its_own_signals_and_runs_are_identical():
    candles = {"BTC/USDT": random_walk_candles(2_000, seed=3)}
    first = backtest(candles, EmaCrossTestStrategy(), BacktestConfig(stop_loss_pct=0.01, take_profit_pct=0.02))
    second = backtest(candles, EmaCrossTestStrategy(), BacktestConfig(stop_loss_pct=0.01, take_profit_pct=0.02))
    assert len(first.trades) > 20
    assert repr(first.trades) == repr(second.trades) and first.equity.tobytes() == second.equity.tobytes()


def test_bad_input_gets_a_clear_error():
    with pytest.raises(BacktestInputError, match="no signals"):
        backtest({"BTC/USDT": candles_from_rows([FLAT])}, {}, BacktestConfig())
    with pytest.raises(BacktestInputError, match="strictly increasing"):
        candles = candles_from_rows([FLAT, FLAT])
        candles.time[1] = candles.time[0]
        backtest({"X": candles}, {"X": signals_at(2)}, BacktestConfig())
    with pytest.raises(BacktestInputError, match="fill_at"):
        BacktestConfig(fill_at="tomorrow")
