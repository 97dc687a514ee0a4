"""Goals in the backtest: the figures equal a hand calculation on a crafted equity series."""

from datetime import UTC, datetime

import numpy as np
import pytest

from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule
from apps.engine.goal_backtest import (
    GoalSizing,
    GoalTargets,
    goal_report,
    months_to_target,
    path_drawdowns,
    run_figures,
)
from apps.engine.sizing import Sizing
from tests.engine.backtest_support import candles_from_rows, signals_at


def ms(year, month, day) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp() * 1000)


# 10,000 -> +12 % (Jan) -> +12 % (Feb) -> -5 % (Mar) -> +12 % (Apr)
TIMES = np.array([ms(2025, 1, 1), ms(2025, 1, 31), ms(2025, 2, 28), ms(2025, 3, 31), ms(2025, 4, 30)])
EQUITY = np.array([10_000.0, 11_200.0, 12_544.0, 11_916.8, 13_346.816])
# Trades closed: +100 and -30 in January, +200 in March.
EXITS = np.array([ms(2025, 1, 15), ms(2025, 1, 20), ms(2025, 3, 5)])
PNL = np.array([100.0, -30.0, 200.0])


def report(**targets):
    return goal_report(
        time_ms=TIMES, equity=EQUITY, initial=10_000.0, targets=GoalTargets(**targets), trade_exit_ms=EXITS, trade_pnl=PNL
    )


def test_three_of_four_months_reach_a_ten_percent_target_and_the_bootstrap_agrees():
    figures = report(monthly_return=0.10)["monthly_return"]
    assert figures["share_of_months"] == 0.75
    assert figures["probability"] == pytest.approx(0.75, abs=0.01)  # 40,000 months drawn


def test_the_average_monthly_income_counts_the_months_without_trades():
    figures = report(monthly_income=100.0)
    assert figures["average_monthly_income"] == pytest.approx((70 + 0 + 200 + 0) / 4)
    assert figures["monthly_income"]["share_of_months"] == 0.25  # only March made 100


def test_months_to_the_portfolio_target_compound_the_median_month():
    steady = np.array([10_000.0, 11_200.0, 12_544.0, 14_049.28, 15_735.1936])  # +12 % every month
    figures = goal_report(time_ms=TIMES, equity=steady, initial=10_000.0, targets=GoalTargets(portfolio_value=20_000.0))[
        "portfolio_value"
    ]
    assert figures["median_month"] == pytest.approx(0.12)
    # 15,735 x 1.12 = 17,623; x 1.12^2 = 19,738 (short); x 1.12^3 = 22,107: three months.
    assert figures["months_to_target"] == 3


def test_a_portfolio_target_is_never_reached_by_shrinking_months():
    falling = np.array([10_000.0, 9_500.0, 9_025.0, 8_573.75, 8_145.0625])
    figures = goal_report(time_ms=TIMES, equity=falling, initial=10_000.0, targets=GoalTargets(portfolio_value=20_000.0))
    assert figures["portfolio_value"]["months_to_target"] is None


def test_months_to_target_edges():
    assert months_to_target(value=20_000, target=20_000, month=-0.1) == 0
    assert months_to_target(value=10_000, target=11_000, month=0.0) is None
    assert months_to_target(value=10_000, target=11_000, month=0.10) == 1


def test_run_figures_are_the_return_the_max_drawdown_and_the_worst_month():
    figures = run_figures(TIMES, EQUITY, 10_000.0)
    assert figures.total_return == pytest.approx(0.3346816)
    assert figures.max_drawdown == pytest.approx(0.05)  # 12,544 -> 11,916.8
    assert figures.worst_month == pytest.approx(-0.05)
    # The worst four months drawn are four -5 % months: 1 - 0.95^4 = 18.5 %, never 20 %.
    assert figures.drawdown_probability == 0.0


def test_a_path_of_three_ten_percent_losses_draws_down_27_percent():
    assert path_drawdowns(np.array([[-0.1, -0.1, -0.1], [0.1, 0.1, -0.1]])) == pytest.approx([0.271, 0.1])


def test_the_bootstrap_is_seeded():
    assert report(monthly_return=0.10) == report(monthly_return=0.10)


def test_goal_sizing_scales_each_entry_before_what_cash_allows():
    rows = [(100, 101, 99, 100)] * 4
    candles = candles_from_rows(rows)
    signals = {"BTC/USDT": signals_at(4, entry_long=[0], exit_long=[2])}
    config = {"fees": FeeSchedule(maker=0.0, taker=0.0), "sizing": Sizing("fixed_quote", 1_000.0)}
    plain = backtest({"BTC/USDT": candles}, signals, BacktestConfig(**config))
    raised = backtest({"BTC/USDT": candles}, signals, BacktestConfig(**config, entry_factor=lambda now, equity: 1.3))
    assert raised.trades[0].quantity == pytest.approx(plain.trades[0].quantity * 1.3)


def test_in_a_backtest_a_month_behind_pace_catches_up_and_one_ahead_holds_back():
    sizing = GoalSizing(GoalTargets(monthly_return=0.10))
    assert sizing(ms(2025, 6, 1), 10_000.0) == pytest.approx(1.15)  # 0 % by noon on day 1: 1.3 pulled halfway
    assert sizing(ms(2025, 6, 20), 10_000.0) == 1.3  # 0 % with two thirds gone: critical
    assert sizing(ms(2025, 6, 25), 11_500.0) == 0.7  # achieved
    assert GoalSizing(GoalTargets(monthly_return=0.10), catch_up=False)(ms(2025, 6, 20), 10_000.0) == 1.0
