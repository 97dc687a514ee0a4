"""Higher-timeframe candles: a strategy sees a 4h candle only once it has closed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.engine.strategies.base import Candles
from apps.engine.strategies.timeframes import candles_resample, informative_align
from apps.engine.timeframes import timeframe_ms

MINUTE, HOUR = 60_000, 3_600_000


def candles(time, close, timeframe) -> Candles:
    close = np.asarray(close, dtype=np.float64)
    return Candles(np.asarray(time, dtype=np.int64), close, close + 1, close - 1, close, np.ones(len(close)), timeframe)


def test_timeframes_convert_to_milliseconds():
    assert [timeframe_ms(tf) for tf in ("1m", "15m", "4h", "1d", "1w")] == [
        MINUTE,
        15 * MINUTE,
        4 * HOUR,
        24 * HOUR,
        7 * 24 * HOUR,
    ]


def test_an_unknown_timeframe_gets_a_clear_error():
    with pytest.raises(ValueError, match="unknown timeframe '1M'"):
        timeframe_ms("1M")


def test_a_4h_candle_is_seen_only_from_the_15m_candle_that_closes_with_it():
    base = candles(np.arange(32) * 15 * MINUTE, np.zeros(32), "15m")  # 00:00 .. 07:45
    four_hour = candles([0, 4 * HOUR], [10.0, 20.0], "4h")
    aligned = informative_align(base, four_hour, four_hour.close)
    assert np.isnan(aligned[:15]).all()  # up to the 03:30 candle, which closes at 03:45
    assert aligned[15] == 10.0  # the 03:45 candle closes at 04:00, with the 00:00 4h candle
    assert (aligned[16:31] == 10.0).all() and aligned[31] == 20.0


@given(base_minutes=st.sampled_from([1, 5, 15, 60]), offset=st.integers(0, 400), count=st.integers(1, 300))
@settings(max_examples=50, deadline=None)
def test_every_base_candle_sees_the_latest_closed_higher_candle_and_nothing_later(base_minutes, offset, count):
    step = base_minutes * MINUTE
    base = candles((offset + np.arange(count)) * step, np.zeros(count), f"{base_minutes}m")
    higher_opens = np.arange(0, (offset + count + 1) * step + 4 * HOUR, 4 * HOUR)
    higher = candles(higher_opens, np.arange(len(higher_opens)), "4h")  # close = its own index
    aligned = informative_align(base, higher, higher.close)
    for i, base_open in enumerate(base.time):
        closed = [k for k, open_ in enumerate(higher.time) if open_ + 4 * HOUR <= base_open + step]
        expected = closed[-1] if closed else np.nan
        np.testing.assert_array_equal(aligned[i], expected)


def test_resampling_keeps_only_complete_buckets():
    # 15m candles from 03:00 to 08:45: the 00:00 4h bucket is missing its first 12 candles.
    time = 3 * HOUR + np.arange(24) * 15 * MINUTE
    base = candles(time, np.arange(24.0), "15m")
    four_hour = candles_resample(base, "4h")
    assert four_hour.time.tolist() == [4 * HOUR]
    assert (four_hour.open[0], four_hour.close[0]) == (4.0, 19.0)
    assert (four_hour.high[0], four_hour.low[0], four_hour.volume[0]) == (20.0, 3.0, 16.0)


def test_resampling_to_a_timeframe_that_is_not_a_multiple_is_refused():
    with pytest.raises(ValueError, match="cannot build 1h candles from 7m"):
        candles_resample(candles([0], [1.0], "7m"), "1h")
