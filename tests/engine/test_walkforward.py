"""Walk-forward folds and the stitched out-of-sample equity (pure)."""

import numpy as np
import pytest

from apps.engine.walkforward import (
    DAY_MS,
    WalkForwardError,
    equity_stitched,
    parameter_stability,
    walk_forward_efficiency,
    walk_forward_folds,
)

START = 1_704_067_200_000


@pytest.mark.parametrize("anchored", [False, True])
def test_no_fold_ever_trains_on_a_candle_it_is_tested_on_and_the_tests_tile_the_end_of_the_data(anchored):
    end = START + 100 * DAY_MS
    folds = walk_forward_folds(START, end, folds=6, train_ms=30 * DAY_MS, test_ms=10 * DAY_MS, anchored=anchored)
    assert len(folds) == 6 and folds[-1].test_end == end
    for fold in folds:
        assert START <= fold.train_start < fold.train_end == fold.test_start < fold.test_end
        for other in folds:  # no test window overlaps any fold's test window but its own
            assert other is fold or other.test_end <= fold.test_start or other.test_start >= fold.test_end
    for earlier, later in zip(folds, folds[1:]):
        assert earlier.test_end == later.test_start
    if anchored:
        assert {fold.train_start for fold in folds} == {START}
    else:
        assert all(fold.train_end - fold.train_start == 30 * DAY_MS for fold in folds)


def test_folds_that_need_more_data_than_there_is_are_refused_with_what_they_need():
    with pytest.raises(WalkForwardError, match="6 folds need 90 days of candles"):
        walk_forward_folds(START, START + 60 * DAY_MS, folds=6, train_ms=30 * DAY_MS, test_ms=10 * DAY_MS, anchored=False)


def test_the_stitched_equity_adds_each_folds_result_to_the_folds_before_it():
    curves = [
        (np.array([1, 2, 3]), np.array([10_000.0, 10_100.0, 10_200.0])),
        (np.array([4, 5]), np.array([9_900.0, 9_800.0])),
        (np.array([6, 7]), np.array([10_050.0, 10_300.0])),
    ]
    time, equity = equity_stitched(curves, 10_000.0)
    assert time.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert equity.tolist() == [10_000.0, 10_100.0, 10_200.0, 10_100.0, 10_000.0, 10_050.0, 10_300.0]
    assert equity[-1] == 10_000.0 + (200.0 - 200.0 + 300.0)


def test_parameter_stability_is_zero_variation_for_a_param_every_fold_chose_alike():
    report = parameter_stability(
        [{"fast": 9, "allow_short": False}, {"fast": 9, "allow_short": True}, {"fast": 9, "allow_short": False}]
    )
    assert report["fast"]["coefficient_of_variation"] == 0.0
    assert report["allow_short"]["most_common"] == "False" and report["allow_short"]["share"] == pytest.approx(2 / 3)


def test_walk_forward_efficiency_compares_returns_per_day():
    assert walk_forward_efficiency([(10.0, 30.0)], [(2.0, 10.0)]) == pytest.approx((2 / 10) / (10 / 30))
    assert walk_forward_efficiency([(-5.0, 30.0)], [(2.0, 10.0)]) is None
