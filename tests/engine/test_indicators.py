"""Indicators: known values, TA-Lib agreement, pure-Python references, warm-up and no look-ahead."""

import math

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.engine import indicators as ind

MINUTE = 60_000
DAY = 86_400_000


def random_candles(seed: int, count: int, *, start_ms: int = 0, step_ms: int = MINUTE):
    """A random walk with consistent OHLC, some zero-volume candles and ms open times."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, count)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, count)))
    volume = rng.gamma(2.0, 10.0, count) * (rng.random(count) > 0.05)
    time = start_ms + np.arange(count, dtype=np.int64) * step_ms
    return dict(time=time, open=open_, high=high, low=low, close=close, volume=volume)


# --- Known values --------------------------------------------------------------------------


def test_sma_of_one_to_ten_is_the_mean_of_each_window():
    result = ind.sma(np.arange(1, 11), 3)
    np.testing.assert_array_equal(result, [np.nan, np.nan, 2, 3, 4, 5, 6, 7, 8, 9])


def test_ema_is_seeded_with_the_sma_then_weights_the_new_value_by_two_over_period_plus_one():
    # period 3: alpha 0.5; seed = mean(1, 2, 3) = 2; then 0.5*4 + 0.5*2 = 3, 0.5*10 + 0.5*3 = 6.5
    np.testing.assert_allclose(ind.ema([1, 2, 3, 4, 10], 3), [np.nan, np.nan, 2, 3, 6.5])


def wilder_rsi_reference(close: list[float], period: int) -> list[float]:
    """Wilder's RSI, straight from the book: plain averages first, then (prev*(n-1)+x)/n."""
    changes = [b - a for a, b in zip(close, close[1:])]
    out = [math.nan] * len(close)
    if len(changes) < period:
        return out
    gain = sum(max(c, 0) for c in changes[:period]) / period
    loss = sum(max(-c, 0) for c in changes[:period]) / period
    for i in range(period, len(close)):
        if i > period:
            change = changes[i - 1]
            gain = (gain * (period - 1) + max(change, 0)) / period
            loss = (loss * (period - 1) + max(-change, 0)) / period
        out[i] = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
    return out


def test_rsi_matches_wilders_definition_on_a_crafted_series():
    close = [
        44.34,
        44.09,
        44.15,
        43.61,
        44.33,
        44.83,
        45.10,
        45.42,
        45.84,
        46.08,
        45.89,
        46.03,
        45.61,
        46.28,
        46.28,
        46.00,
        46.03,
        46.41,
        46.22,
        45.64,
        46.21,
        46.25,
        45.71,
        46.45,
    ]
    result = ind.rsi(close, 14)
    np.testing.assert_allclose(result, wilder_rsi_reference(close, 14), rtol=0, atol=1e-9)
    # By hand: the first 14 changes gain 3.34 and lose 1.40 in all, RSI = 100 - 100 / (1 + 3.34 / 1.40)
    assert result[14] == pytest.approx(100 - 100 / (1 + 3.34 / 1.40), abs=1e-9)


@given(seed=st.integers(0, 2**32 - 1), period=st.integers(2, 30))
@settings(max_examples=30, deadline=None)
def test_rsi_matches_a_pure_python_wilder_reference_on_random_walks(seed, period):
    close = random_candles(seed, 200)["close"]
    np.testing.assert_allclose(ind.rsi(close, period), wilder_rsi_reference(list(close), period), atol=1e-9)


def test_rsi_is_100_when_a_market_only_rises():
    assert ind.rsi(np.arange(1.0, 30.0), 14)[-1] == 100.0


def test_bollinger_bands_are_the_mean_plus_minus_k_population_deviations():
    upper, middle, lower = ind.bollinger([1, 2, 3, 4, 5], 5, 2.0)
    assert middle[-1] == pytest.approx(3.0)
    assert upper[-1] == pytest.approx(3 + 2 * math.sqrt(2))
    assert lower[-1] == pytest.approx(3 - 2 * math.sqrt(2))


def test_donchian_channel_is_the_highest_high_and_lowest_low_of_the_window():
    upper, middle, lower = ind.donchian([1, 3, 2, 5, 4], [0, 1, 1, 2, 0.5], 3)
    np.testing.assert_array_equal(upper, [np.nan, np.nan, 3, 5, 5])
    np.testing.assert_array_equal(lower, [np.nan, np.nan, 0, 1, 0.5])
    np.testing.assert_array_equal(middle, [np.nan, np.nan, 1.5, 3, 2.75])


def test_obv_adds_volume_on_up_closes_and_subtracts_it_on_down_closes():
    np.testing.assert_array_equal(ind.obv([1, 2, 2, 1], [10, 20, 30, 40]), [10, 30, 30, -10])


def test_cvd_signs_each_candles_volume_by_its_direction():
    delta = ind.cumulative_volume_delta(open_=[1, 2, 3, 3], close=[2, 1, 3, 4], volume=[5, 2, 7, 1])
    np.testing.assert_array_equal(delta, [5, 3, 3, 4])


# --- TA-Lib agreement ----------------------------------------------------------------------


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_wrappers_agree_with_talib(seed):
    c = random_candles(seed, 300)
    h, l, cl, v = c["high"], c["low"], c["close"], c["volume"]
    pairs = [
        (ind.sma(cl, 20), talib.SMA(cl, 20)),
        (ind.ema(cl, 20), talib.EMA(cl, 20)),
        (ind.rsi(cl, 14), talib.RSI(cl, 14)),
        (ind.atr(h, l, cl, 14), talib.ATR(h, l, cl, 14)),
        (ind.adx(h, l, cl, 14), talib.ADX(h, l, cl, 14)),
        (ind.obv(cl, v), talib.OBV(cl, v)),
        (ind.highest(h, 20), talib.MAX(h, 20)),
        (ind.lowest(l, 20), talib.MIN(l, 20)),
        *zip(ind.macd(cl, 12, 26, 9), talib.MACD(cl, 12, 26, 9)),
        *zip(ind.bollinger(cl, 20, 2.0), talib.BBANDS(cl, 20, 2.0, 2.0, 0)),
        *zip(ind.stochastic(h, l, cl, 14, 3, 3), talib.STOCH(h, l, cl, 14, 3, 0, 3, 0)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_wrappers_accept_integer_lists_that_talib_alone_refuses():
    assert ind.sma([1, 2, 3], 2)[-1] == 2.5


def test_a_period_that_is_not_a_whole_number_gets_a_clear_error():
    with pytest.raises(ValueError, match="period must be a whole number of candles >= 2, got 2.5"):
        ind.sma([1.0, 2.0, 3.0], 2.5)


def test_arrays_of_different_lengths_get_a_clear_error():
    with pytest.raises(ValueError, match="same length"):
        ind.atr([1.0, 2.0], [1.0], [1.0, 2.0], 1)


# --- Our own: pure-Python references ----------------------------------------------------------


def vwap_reference(time, high, low, close, volume):
    out, day, pv, vol = [], None, 0.0, 0.0
    first_day, partial = time[0] // DAY, time[0] % DAY != 0
    for t, h, l, c, v in zip(time, high, low, close, volume):
        if t // DAY != day:
            day, pv, vol = t // DAY, 0.0, 0.0
        pv += (h + l + c) / 3 * v
        vol += v
        out.append(math.nan if vol == 0 or (partial and day == first_day) else pv / vol)
    return out


@given(seed=st.integers(0, 2**32 - 1), start_minute=st.integers(0, 1439))
@settings(max_examples=25, deadline=None)
def test_vwap_matches_a_pure_python_reference_and_restarts_each_utc_day(seed, start_minute):
    c = random_candles(seed, 4000, start_ms=10 * DAY + start_minute * MINUTE)
    ours = ind.anchored_vwap(c["time"], c["high"], c["low"], c["close"], c["volume"])
    expected = vwap_reference(*(list(c[k]) for k in ("time", "high", "low", "close", "volume")))
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=0)


def test_vwap_of_a_new_day_starts_from_that_days_first_candle():
    time = np.array([0, MINUTE, DAY, DAY + MINUTE])
    price = np.array([10.0, 20.0, 50.0, 70.0])
    vwap = ind.anchored_vwap(time, price, price, price, [1.0, 1.0, 1.0, 3.0])
    np.testing.assert_allclose(vwap, [10, 15, 50, 65])


def test_vwap_is_unknown_for_a_day_the_data_starts_in_the_middle_of():
    time = np.array([DAY - MINUTE, DAY])
    vwap = ind.anchored_vwap(time, [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 1.0])
    assert np.isnan(vwap[0]) and vwap[1] == 2.0


def volume_profile_reference(price, volume, lookback, bins, value_area):
    poc, vah, val = ([math.nan] * len(price) for _ in range(3))
    for end in range(lookback - 1, len(price)):
        window_p, window_v = price[end - lookback + 1 : end + 1], volume[end - lookback + 1 : end + 1]
        low, width = min(window_p), (max(window_p) - min(window_p)) / bins
        histogram = [0.0] * bins
        for p, v in zip(window_p, window_v):
            histogram[min(int((p - low) / (width or 1.0)), bins - 1)] += v
        ranked = sorted(range(bins), key=lambda b: (-histogram[b], b))
        total = sum(histogram[b] for b in ranked)
        if total == 0:
            continue
        chosen, held = [], 0.0
        for b in ranked:
            if held >= value_area * total:
                break
            chosen.append(b)
            held += histogram[b]
        poc[end] = low + (ranked[0] + 0.5) * width
        vah[end], val[end] = low + (max(chosen) + 1) * width, low + min(chosen) * width
    return poc, vah, val


@given(
    seed=st.integers(0, 2**32 - 1),
    lookback=st.integers(2, 30),
    bins=st.integers(2, 12),
    value_area=st.sampled_from([0.5, 0.7, 0.9, 1.0]),
)
@settings(max_examples=40, deadline=None)
def test_volume_profile_matches_a_pure_python_reference(seed, lookback, bins, value_area):
    c = random_candles(seed, 80)
    price = np.round(c["close"], 1)  # rounded: repeated prices and ties between bins happen
    ours = ind.volume_profile(price, c["volume"], lookback, bins, value_area)
    expected = volume_profile_reference(list(price), list(c["volume"]), lookback, bins, value_area)
    for our_line, expected_line in zip(ours, expected):
        np.testing.assert_allclose(our_line, expected_line, rtol=1e-12)


def test_volume_profile_is_the_same_when_computed_in_many_chunks(monkeypatch):
    c = random_candles(3, 400)
    monkeypatch.setattr(ind, "_PROFILE_CHUNK_PRICES", 1)  # 64 windows per chunk: 6 chunks here
    expected = volume_profile_reference(list(c["close"]), list(c["volume"]), 20, 8, 0.7)
    for our_line, expected_line in zip(ind.volume_profile(c["close"], c["volume"], 20, 8, 0.7), expected):
        np.testing.assert_allclose(our_line, expected_line, rtol=1e-12)


def test_volume_profile_puts_the_point_of_control_where_the_volume_traded():
    price = np.array([100.0, 101, 102, 103, 104, 101.2, 101.4])
    volume = np.array([1.0, 10, 1, 1, 1, 10, 10])
    poc, vah, val = ind.volume_profile(price, volume, lookback=7, bins=4, value_area=0.7)
    # Range 100..104 in 4 bins of 1.0; bin [101, 102) holds 30 of 34: POC 101.5, value area that bin.
    assert (poc[-1], val[-1], vah[-1]) == (101.5, 101.0, 102.0)


def test_volume_profile_of_a_flat_window_is_that_price():
    poc, vah, val = ind.volume_profile(np.full(5, 50.0), np.ones(5), lookback=5, bins=10)
    assert (poc[-1], vah[-1], val[-1]) == (50.0, 50.0, 50.0)


def test_volume_profile_without_volume_is_unknown():
    poc, _, _ = ind.volume_profile(np.arange(5.0), np.zeros(5), lookback=5, bins=10)
    assert np.isnan(poc).all()


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_cvd_matches_a_pure_python_running_sum(seed):
    c = random_candles(seed, 100)
    expected, total = [], 0.0
    for o, cl, v in zip(c["open"], c["close"], c["volume"]):
        total += v * (1 if cl > o else -1 if cl < o else 0)
        expected.append(total)
    np.testing.assert_allclose(ind.cumulative_volume_delta(c["open"], c["close"], c["volume"]), expected, atol=1e-9)


# --- Warm-up and no look-ahead, for every indicator --------------------------------------------

INDICATORS = {
    "sma": (lambda c: ind.sma(c["close"], 10), 9),
    "ema": (lambda c: ind.ema(c["close"], 10), 9),
    "rsi": (lambda c: ind.rsi(c["close"], 14), 14),
    "macd": (lambda c: ind.macd(c["close"], 12, 26, 9), 33),
    "bollinger": (lambda c: ind.bollinger(c["close"], 20, 2.0), 19),
    "atr": (lambda c: ind.atr(c["high"], c["low"], c["close"], 14), 14),
    "adx": (lambda c: ind.adx(c["high"], c["low"], c["close"], 14), 27),
    "highest": (lambda c: ind.highest(c["high"], 20), 19),
    "lowest": (lambda c: ind.lowest(c["low"], 20), 19),
    "donchian": (lambda c: ind.donchian(c["high"], c["low"], 20), 19),
    "obv": (lambda c: ind.obv(c["close"], c["volume"]), 0),
    "stochastic": (lambda c: ind.stochastic(c["high"], c["low"], c["close"], 14, 3, 3), 17),
    "vwap": (lambda c: ind.anchored_vwap(c["time"], c["high"], c["low"], c["close"], c["volume"]), 0),
    "volume_profile": (lambda c: ind.volume_profile(c["close"], c["volume"], 30, 10, 0.7), 29),
    "cvd": (lambda c: ind.cumulative_volume_delta(c["open"], c["close"], c["volume"]), 0),
}


def as_outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", INDICATORS)
def test_indicator_is_nan_during_warm_up_and_defined_after(name):
    compute, warmup = INDICATORS[name]
    c = random_candles(7, 200)
    c["volume"] = c["volume"] + 1.0  # no zero-volume window: every value after warm-up exists
    for output in as_outputs(compute(c)):
        assert np.isnan(output[:warmup]).all()
        assert not np.isnan(output[warmup:]).any()


@pytest.mark.parametrize("name", INDICATORS)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 300), start_minute=st.integers(0, 1439))
@settings(max_examples=15, deadline=None)
def test_indicator_never_looks_ahead(name, seed, cut, start_minute):
    compute, _ = INDICATORS[name]
    full = random_candles(seed, 300, start_ms=DAY + start_minute * MINUTE, step_ms=5 * MINUTE)
    prefix = {key: values[:cut] for key, values in full.items()}
    for on_prefix, on_full in zip(as_outputs(compute(prefix)), as_outputs(compute(full))):
        np.testing.assert_array_equal(on_prefix, on_full[:cut])


def test_crossings_need_the_previous_value_on_the_other_side():
    series = [1.0, 2.0, 3.0, 2.0, np.nan, 4.0, 2.0]
    assert ind.crossed_above(series, 2.5).tolist() == [False, False, True, False, False, False, False]
    assert ind.crossed_below(series, 2.5).tolist() == [False, False, False, True, False, False, True]
