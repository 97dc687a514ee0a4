"""Each metric against a case computed by hand."""

import json
import math

import numpy as np
import pytest

from apps.engine import metrics
from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule
from tests.engine.backtest_support import (
    START_MS,
    candles_from_rows,
    random_walk_candles,
    signals_at,
)

DAY = 86_400_000


def days(count):
    return START_MS + np.arange(count, dtype=np.int64) * DAY


def test_total_and_annualised_return_over_a_year_and_a_half_year():
    assert metrics.total_return_pct(100.0, 121.0) == pytest.approx(21.0)
    assert metrics.period_days(days(365)) == 365.0
    assert metrics.annualised_return_pct(100.0, 121.0, 365.0) == pytest.approx(21.0)
    assert metrics.annualised_return_pct(100.0, 121.0, 730.0) == pytest.approx(10.0)
    assert metrics.annualised_return_pct(100.0, 0.0, 365.0) is None


def test_max_drawdown_reports_depth_start_trough_recovery_and_duration():
    equity = np.array([100.0, 120.0, 90.0, 60.0, 100.0, 130.0, 125.0])
    drawdown = metrics.max_drawdown(days(7), equity, 100.0)
    assert drawdown["max_drawdown_pct"] == pytest.approx(50.0)  # 120 -> 60
    assert drawdown["drawdown_start"] == "2024-01-02T00:00:00Z"
    assert drawdown["drawdown_trough"] == "2024-01-04T00:00:00Z"
    assert drawdown["drawdown_recovery"] == "2024-01-06T00:00:00Z"
    assert drawdown["drawdown_duration_days"] == 4.0


def test_a_drawdown_never_recovered_lasts_until_the_end():
    drawdown = metrics.max_drawdown(days(3), np.array([100.0, 80.0, 90.0]), 100.0)
    assert drawdown["max_drawdown_pct"] == pytest.approx(20.0)
    assert drawdown["drawdown_recovery"] is None and drawdown["drawdown_duration_days"] == 2.0


def test_daily_returns_use_each_days_last_close_and_start_from_the_initial_balance():
    hours = START_MS + np.arange(48, dtype=np.int64) * 3_600_000
    equity = np.linspace(101.0, 130.0, 48)
    equity[23] = 110.0
    equity[47] = 121.0
    np.testing.assert_allclose(metrics.daily_returns(hours, equity, 100.0), [0.10, 0.10])


def test_sharpe_and_sortino_annualise_daily_returns_with_sqrt_365():
    daily = np.array([0.01, -0.01, 0.02, 0.0])
    mean, deviation = 0.005, np.std(daily, ddof=1)
    assert metrics.sharpe_ratio(daily) == pytest.approx(mean / deviation * math.sqrt(365))
    downside = math.sqrt(0.01**2 / 4)
    assert metrics.sortino_ratio(daily) == pytest.approx(mean / downside * math.sqrt(365))
    risk_free = 0.05
    daily_free = 1.05 ** (1 / 365) - 1
    assert metrics.sharpe_ratio(daily, risk_free) == pytest.approx((mean - daily_free) / deviation * math.sqrt(365))


def test_ratios_are_none_when_undefined():
    assert metrics.sharpe_ratio(np.zeros(10)) is None
    assert metrics.sortino_ratio(np.array([0.01, 0.02])) is None
    assert metrics.sharpe_ratio(np.array([0.01])) is None
    assert metrics.calmar_ratio(20.0, 0.0) is None
    assert metrics.calmar_ratio(20.0, 10.0) == 2.0


def test_trade_stats_from_net_pnl():
    stats = metrics.trade_stats(np.array([30.0, -10.0, 20.0, -20.0]), np.array([60_000, 120_000, 60_000, 0]))
    assert stats["win_rate_pct"] == 50.0
    assert stats["profit_factor"] == pytest.approx(50 / 30)
    assert stats["expectancy"] == pytest.approx(5.0)
    assert (stats["average_win"], stats["average_loss"]) == (25.0, -15.0)
    assert (stats["largest_win"], stats["largest_loss"]) == (30.0, -20.0)
    assert stats["average_holding_seconds"] == 60.0


def test_trade_stats_without_losses_or_trades_are_none_not_zero():
    assert metrics.trade_stats(np.array([5.0]), np.array([0]))["profit_factor"] is None
    empty = metrics.trade_stats(np.array([]), np.array([]))
    assert empty["win_rate_pct"] is None and empty["expectancy"] is None and empty["trades"] == 0


def test_exposure_counts_candles_with_a_position_open():
    assert metrics.exposure_pct(days(10), np.array([days(10)[2]]), np.array([days(10)[6]])) == 40.0


def test_monthly_returns_are_in_percent_of_month_start_equity():
    time = np.array([START_MS, START_MS + 20 * DAY, START_MS + 31 * DAY, START_MS + 40 * DAY], dtype=np.int64)
    months = metrics.monthly_returns(time, np.array([105.0, 110.0, 99.0, 121.0]), 100.0)
    assert months == [
        {"month": "2024-01", "return_pct": pytest.approx(10.0)},
        {"month": "2024-02", "return_pct": pytest.approx(10.0)},
    ]


def test_fills_match_first_in_first_out_with_partial_quantities_and_fees():
    trips = metrics.round_trips(
        ["buy", "buy", "sell", "sell"], [1.0, 1.0, 1.5, 0.5], [100.0, 110.0, 120.0, 90.0], [1.0, 1.0, 1.5, 0.5]
    )
    assert [(t["quantity"], t["entry_price"], t["exit_price"]) for t in trips] == [
        (1.0, 100.0, 120.0),
        (0.5, 110.0, 120.0),
        (0.5, 110.0, 90.0),
    ]
    assert [t["pnl"] for t in trips] == [pytest.approx(18.0), pytest.approx(4.0), pytest.approx(-11.0)]


def test_a_sell_beyond_the_long_opens_a_short_with_the_rest():
    trips = metrics.round_trips(["buy", "sell", "buy"], [1.0, 3.0, 2.0], [100.0, 110.0, 100.0], [0.0, 0.0, 0.0])
    assert [(t["side"], t["quantity"], t["pnl"]) for t in trips] == [("long", 1.0, 10.0), ("short", 2.0, 20.0)]


def test_backtest_metrics_are_json_serialisable_with_breakdowns():
    rows = [(100, 101, 99, 100)] * 3 + [(110, 111, 109, 110)] * 3
    candles = {"BTC/USDT": candles_from_rows(rows)}
    result = backtest(
        candles,
        {"BTC/USDT": signals_at(6, entry_long=[0], exit_long=[3], entry_short=[4])},
        BacktestConfig(fees=FeeSchedule(0.0, 0.0)),
    )
    document = json.loads(json.dumps(result.metrics))
    assert document["trades"] == 2 and document["per_side"]["long"]["net_pnl"] == pytest.approx(1_000)
    assert document["per_market"]["BTC/USDT"]["trades"] == 2
    assert document["profit_factor"] is None and document["start"] == "2024-01-01T00:00:00Z"


def daily_walk_result(day_count: int):
    candles = random_walk_candles(day_count, seed=3, timeframe_ms=DAY, timeframe="1d")
    signals = signals_at(day_count, entry_long=[1], exit_long=[day_count - 2])
    return backtest({"A": candles}, {"A": signals}, BacktestConfig(fees=FeeSchedule(0.0, 0.0)))


def test_figures_over_a_span_too_short_are_none_with_their_reason():
    result = daily_walk_result(10)
    document = result.metrics
    assert document["annualised_return_pct"] is None and document["calmar"] is None
    assert document["sharpe"] is None and document["sortino"] is None
    assert document["unavailable"] == {
        "annualised_return_pct": "span too short",
        "calmar": "span too short",
        "sharpe": "fewer than 30 daily returns",
        "sortino": "fewer than 30 daily returns",
    }
    assert document["total_return_pct"] != 0.0
    # the raw computations stay available for any span
    assert metrics.annualised_return_pct(result.initial_balance, result.final_equity, document["days"]) is not None


def test_figures_over_thirty_days_or_more_are_given():
    document = daily_walk_result(40).metrics
    assert document["unavailable"] == {}
    assert document["annualised_return_pct"] is not None and document["sharpe"] is not None
