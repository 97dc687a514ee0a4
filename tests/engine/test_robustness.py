"""Monte Carlo, the random-entry significance test and the neighbourhood drop (pure, seeded)."""

import numpy as np
import pytest

from apps.engine.robustness import monte_carlo_bootstrap, monte_carlo_shuffle, neighbourhood_drop, random_entry_significance


def test_shuffling_the_trades_never_changes_the_final_equity_but_does_change_the_drawdown():
    pnl = np.array([500.0, -300.0, -300.0, 200.0, -300.0, 800.0, 100.0, -200.0])
    result = monte_carlo_shuffle(pnl, 10_000.0, runs=500, seed=1)
    assert list(result.final_equity.values()) == pytest.approx([10_000.0 + pnl.sum()] * 3)
    assert result.max_drawdown_pct[5] < result.max_drawdown_pct[95]
    assert result.max_drawdown_pct[95] <= 1_100 / 10_000 * 100 + 1e-9  # never worse than every loss in a row
    assert monte_carlo_shuffle(pnl, 10_000.0, runs=500, seed=1) == result  # seeded: the same report twice


def test_the_bootstrap_spreads_the_final_equity_around_the_compounded_mean():
    returns = np.array([0.02, -0.01, 0.015, -0.005, 0.01])
    result = monte_carlo_bootstrap(returns, 10_000.0, runs=2000, seed=3)
    assert result.final_equity[5] < result.final_equity[50] < result.final_equity[95]
    expected_median = 10_000.0 * np.prod(1 + returns)
    assert result.final_equity[50] == pytest.approx(expected_median, rel=0.03)


def test_a_rule_that_merely_rides_the_trend_is_not_significant_but_a_real_edge_is():
    rng = np.random.default_rng(5)
    steps = rng.normal(0.001, 0.01, 5000)  # a steady uptrend plus noise
    close = 100 * np.exp(np.cumsum(steps))
    entries = np.arange(0, 4900, 50)
    riding = random_entry_significance(close, entries, entries + 20, np.ones(len(entries)), runs=1000, seed=0)
    assert riding.p_value > 0.05  # long every 50 bars: the trend's gift, removed by detrending
    # Knowing the next 20 bars: enter only before the detrended market rises.
    detrended = np.log(close) - (np.log(close[-1]) - np.log(close[0])) / 4999 * np.arange(5000)
    lucky = np.array([i for i in range(0, 4900, 7) if detrended[i + 20] > detrended[i]][:100])
    edge = random_entry_significance(close, lucky, lucky + 20, np.ones(len(lucky)), runs=1000, seed=0)
    assert edge.p_value < 0.01 and edge.mean_return > edge.random_mean


def test_no_trades_has_no_p_value():
    assert random_entry_significance(np.ones(10), [], [], []).p_value is None


def test_the_neighbourhood_drop_is_zero_on_a_plateau_and_counts_an_undefined_neighbour_as_the_worst():
    assert neighbourhood_drop(2.0, [2.0, 2.0]) == {"neighbours": 2, "mean_drop": 0.0, "worst_drop": 0.0}
    assert neighbourhood_drop(2.0, [1.0, None]) == {"neighbours": 2, "mean_drop": 0.75, "worst_drop": 1.0}
