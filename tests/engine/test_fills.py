"""The fill model: precision, slippage, gaps, and which level a candle touched first."""

import numpy as np
import pytest

from apps.engine.fills import (
    BUY,
    SELL,
    FeeSchedule,
    floor_to_step,
    market_fill_price,
    market_fill_prices,
    round_to_tick,
    stop_came_first,
    stop_exit_price,
    target_exit_price,
)


def test_amounts_are_truncated_to_the_step_without_losing_a_step_to_float_error():
    assert floor_to_step(0.3, 0.1) == 0.3
    assert floor_to_step(1.23456, 0.001) == 1.234
    assert floor_to_step(5.0, 0.0) == 5.0


def test_slippage_goes_against_the_trader_and_rounds_to_the_tick_against_them_too():
    assert market_fill_price(100.0, BUY, 10, tick=0.0) == pytest.approx(100.1)
    assert market_fill_price(100.0, SELL, 10, tick=0.0) == pytest.approx(99.9)
    assert market_fill_price(100.03, BUY, 1, tick=0.05) == 100.05
    assert market_fill_price(100.03, SELL, 1, tick=0.05) == 100.0
    np.testing.assert_allclose(market_fill_prices(np.array([100.03, 100.03]), np.array([1, -1]), 1, 0.05), [100.05, 100.0])
    assert round_to_tick(100.026, 0.05) == 100.05


def test_a_gapped_stop_fills_at_the_worse_open_and_a_gapped_target_at_the_better_open():
    assert stop_exit_price(90.0, 98.0, is_long=True) == 90.0
    assert stop_exit_price(99.0, 98.0, is_long=True) == 98.0
    assert stop_exit_price(110.0, 102.0, is_long=False) == 110.0
    assert target_exit_price(110.0, 104.0, is_long=True) == 110.0
    assert target_exit_price(100.0, 104.0, is_long=True) == 104.0


def test_detail_candles_tell_which_level_came_first():
    opens, highs, lows = np.array([100.0, 101, 103]), np.array([101.0, 105, 104]), np.array([99.0, 100, 97])
    assert stop_came_first(detail_open=opens, detail_high=highs, detail_low=lows, stop=98, target=104, is_long=True) == (False, 1)
    assert stop_came_first(detail_open=opens, detail_high=highs, detail_low=lows, stop=104, target=98, is_long=False) == (True, 1)


def test_one_detail_candle_touching_both_is_the_stop_unless_it_opened_beyond_the_target():
    both = dict(detail_high=np.array([105.0]), detail_low=np.array([97.0]), stop=98, target=104, is_long=True)
    assert stop_came_first(detail_open=np.array([100.0]), **both)[0] is True
    assert stop_came_first(detail_open=np.array([104.5]), **both)[0] is False


def test_fees_out_of_range_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="taker fee"):
        FeeSchedule(taker=0.5)
