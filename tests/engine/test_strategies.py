"""Every strategy: what it does on crafted markets, and properties every registered one keeps
(no look-ahead, nothing during warm-up, a live window decides the last candle like the full history)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.engine import indicators as ind
from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule
from apps.engine.strategies.base import Candles, InvalidParamsError
from apps.engine.strategies.registry import strategy_build, strategy_classes
from apps.engine.strategies.timeframes import candles_resample
from apps.engine.timeframes import timeframe_ms

DAY = 86_400_000


def candles_from_closes(close, *, timeframe="1m", start_ms=0, volume=None) -> Candles:
    close = np.asarray(close, dtype=np.float64)
    open_ = np.r_[close[0], close[:-1]]
    step = timeframe_ms(timeframe)
    return Candles(
        time=start_ms + np.arange(len(close), dtype=np.int64) * step,
        open=open_,
        high=np.maximum(open_, close),
        low=np.minimum(open_, close),
        volume=np.ones(len(close)) if volume is None else np.asarray(volume, dtype=np.float64),
        close=close,
        timeframe=timeframe,
    )


def with_trend_candles(candles: Candles, timeframe: str) -> Candles:
    return dataclasses.replace(candles, informative={timeframe: candles_resample(candles, timeframe)})


def random_walk(seed: int, count: int, *, timeframe="1m", start_ms=0) -> Candles:
    rng = np.random.default_rng(seed)
    close = 150 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    candles = candles_from_closes(close, timeframe=timeframe, start_ms=start_ms, volume=rng.gamma(2.0, 10.0, count))
    candles.high = candles.high * (1 + np.abs(rng.normal(0, 0.002, count)))
    candles.low = candles.low * (1 - np.abs(rng.normal(0, 0.002, count)))
    return candles


def flags(array) -> list[int]:
    return np.flatnonzero(array).tolist()


def v_shape(count_down: int, count_up: int, step: float = 0.002) -> np.ndarray:
    down = 100 * (1 - step) ** np.arange(count_down)
    return np.r_[down, down[-1] * (1 + step) ** np.arange(1, count_up + 1)]


# --- RSI -----------------------------------------------------------------------------------


def test_rsi_buys_when_rsi_crosses_back_above_oversold():
    close = np.r_[100 + np.sin(np.arange(150) / 3), 100 * 0.99 ** np.arange(1, 21)]
    close = np.r_[close, close[-1] * 1.01 ** np.arange(1, 21)]
    result = strategy_build("rsi").signals(candles_from_closes(close))
    rsi = result.indicators["rsi"]
    crossings = [i for i in range(1, len(close)) if rsi[i - 1] <= 30 < rsi[i]]
    assert crossings and all(i > 170 for i in crossings)  # the crafted bounce, after the fall
    assert flags(result.entry_long) == crossings
    assert not result.entry_short.any()


def test_rsi_sells_when_rsi_crosses_back_below_overbought_and_shorts_only_if_allowed():
    close = np.r_[100 + np.sin(np.arange(150) / 3), 100 * 1.01 ** np.arange(1, 21)]
    close = np.r_[close, close[-1] * 0.99 ** np.arange(1, 21)]
    candles = candles_from_closes(close)
    long_only = strategy_build("rsi").signals(candles)
    both = strategy_build("rsi", {"allow_short": True}).signals(candles)
    rsi = long_only.indicators["rsi"]
    crossings = [i for i in range(1, len(close)) if rsi[i - 1] >= 70 > rsi[i]]
    assert crossings and all(i > 170 for i in crossings)
    assert flags(long_only.exit_long) == crossings
    assert flags(both.entry_short) == crossings and not long_only.entry_short.any()


# --- Crossovers and MACD ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fast_key, slow_key", [("ema_cross", "ema_fast", "ema_slow"), ("sma_cross", "sma_fast", "sma_slow")]
)
def test_a_crossover_buys_once_when_the_fast_average_crosses_above_the_slow_one(name, fast_key, slow_key):
    result = strategy_build(name).signals(candles_from_closes(v_shape(200, 100)))
    [entry] = flags(result.entry_long)
    fast, slow = result.indicators[fast_key], result.indicators[slow_key]
    assert 200 <= entry < 260
    assert fast[entry - 1] <= slow[entry - 1] and fast[entry] > slow[entry]
    assert not result.exit_long[200:].any()


@pytest.mark.parametrize("name", ["ema_cross", "sma_cross"])
def test_a_crossover_sells_on_the_opposite_cross_and_shorts_only_if_allowed(name):
    close = 200 - v_shape(200, 100)  # a peak instead of a trough
    long_only = strategy_build(name).signals(candles_from_closes(close))
    both = strategy_build(name, {"allow_short": True}).signals(candles_from_closes(close))
    [exit_] = flags(long_only.exit_long)
    assert 200 <= exit_ < 260
    assert flags(both.entry_short) == [exit_] and not long_only.entry_short.any()


def test_macd_sells_when_the_histogram_turns_negative_and_buys_when_it_turns_positive():
    rise, fall = 1.002 ** np.arange(1, 201), 0.998 ** np.arange(1, 51)
    close = 100 * np.r_[rise, rise[-1] * fall, rise[-1] * fall[-1] * rise[:100]]
    result = strategy_build("macd").signals(candles_from_closes(close))
    histogram = result.indicators["macd_histogram"]
    [exit_], [entry] = flags(result.exit_long), flags(result.entry_long)
    assert 200 <= exit_ < 230 and 250 <= entry < 280  # after the peak (200), after the trough (250)
    assert histogram[exit_ - 1] >= 0 > histogram[exit_]
    assert histogram[entry - 1] <= 0 < histogram[entry]


def test_macd_never_signals_during_warm_up_even_if_the_histogram_flips():
    close = 100 + np.sin(np.arange(400) / 4)  # the histogram flips every few candles
    strategy = strategy_build("macd")
    result = strategy.signals(candles_from_closes(close))
    histogram = result.indicators["macd_histogram"]
    early_flips = [i for i in range(1, strategy.warmup_period - 1) if histogram[i - 1] <= 0 < histogram[i]]
    assert early_flips  # the series does give MACD reasons to fire early...
    assert flags(result.entry_long)[0] >= strategy.warmup_period - 1  # ...it waits anyway


# --- Bollinger -----------------------------------------------------------------------------


def calm_then(*moves) -> np.ndarray:
    """100 candles swinging within +/- 1 (inside 2-sigma bands), then the given closes."""
    return np.r_[100 + np.sin(np.arange(100) * 0.7), moves]


def test_bollinger_buys_on_re_entry_from_below_not_on_the_plunge():
    result = strategy_build("bollinger").signals(candles_from_closes(calm_then(95.0, 100.0, 100.2)))
    assert flags(result.entry_long) == [101]  # the close back inside, not the close at 95 (bar 100)
    assert result.indicators["bb_lower"][101] <= 100.0


def test_bollinger_sells_on_re_entry_from_above():
    result = strategy_build("bollinger").signals(candles_from_closes(calm_then(105.0, 100.0)))
    assert flags(result.exit_long) == [101]
    assert not result.entry_long.any()


def test_bollinger_compares_a_close_with_the_bands_of_the_previous_window():
    result = strategy_build("bollinger").signals(candles_from_closes(calm_then(95.0)))
    upper, middle, lower = ind.bollinger(calm_then(95.0), 20, 2.0)
    assert result.indicators["bb_lower"][100] == lower[99]  # the plunge does not widen its own band


def test_bollinger_skips_entries_when_the_bands_are_narrower_than_the_minimum():
    result = strategy_build("bollinger", {"min_bandwidth": 0.5}).signals(candles_from_closes(calm_then(95.0, 100.0)))
    assert not result.entry_long.any()


# --- Donchian ------------------------------------------------------------------------------


def test_donchian_buys_a_close_above_the_previous_channel_high_and_sells_below_the_exit_low():
    close = np.r_[np.tile([99.0, 101.0], 25), 101.0, 102.0, 101.5, 98.0]
    result = strategy_build("donchian").signals(candles_from_closes(close))
    assert flags(result.entry_long) == [51]  # 101 only equals the old high; 102 breaks it
    assert flags(result.exit_long) == [53]  # 98 is below the 10-candle low of 99


# --- VWAP ----------------------------------------------------------------------------------


def test_vwap_reversion_buys_the_first_stretch_below_vwap_and_sells_back_at_vwap():
    day_two = np.r_[np.full(600, 100.0), 99.7, 99.7, 99.6, 100.0, np.full(10, 100.0)]
    close = np.r_[np.full(1440, 100.0), day_two]
    result = strategy_build("vwap_reversion").signals(candles_from_closes(close))
    assert flags(result.entry_long) == [2040]  # the first of the three stretched closes only
    assert flags(result.exit_long)[0] == 1439  # flat at VWAP: "back at VWAP" holds from warm-up on...
    assert 2043 in flags(result.exit_long)  # ...and again when the close returns to it
    assert not result.exit_long[2040:2043].any()
    assert result.indicators["vwap_deviation"][2040] <= -0.002


def test_vwap_reversion_does_not_buy_a_small_dip():
    close = np.r_[np.full(2040, 100.0), 99.9, 100.0]
    assert not strategy_build("vwap_reversion").signals(candles_from_closes(close)).entry_long.any()


# --- Volume profile --------------------------------------------------------------------------


def test_volume_profile_buys_a_bounce_back_into_the_value_area_and_sells_at_the_point_of_control():
    # Volume trades at 100.01; 99 and 101 print now and then with little volume (the range).
    base = np.full(120, 100.01)
    base[::20], base[1::20] = 99.0, 101.0  # jumps over the value area: no bounce into it
    volume = np.where(base == 100.01, 10.0, 0.1)
    close = np.r_[base, 99.5, 100.01, 100.03]
    result = strategy_build("volume_profile").signals(candles_from_closes(close, volume=np.r_[volume, 0.1, 1.0, 1.0]))
    val, poc = result.indicators["vp_val"], result.indicators["vp_poc"]
    assert val[121] <= 100.01 < poc[121]  # value area = the 100.01 bin [100.00, 100.04)
    assert flags(result.entry_long) == [121]
    assert 122 in flags(result.exit_long)  # 100.03 reaches the point of control


# --- Grid ----------------------------------------------------------------------------------


def grid_every_10(closes):
    """Lines 100, 110, ..., 190: one unit is 1/10 of the allocation."""
    return strategy_build("grid", {"low": 100, "high": 190, "levels": 10}).signals(candles_from_closes(closes))


def test_grid_buys_one_unit_for_each_line_the_close_falls_through():
    result = grid_every_10([155, 145, 135, 125])
    assert result.indicators["grid_lines_above"].tolist() == [4, 5, 6, 7]
    assert flags(result.entry_long) == [1, 2, 3]
    np.testing.assert_allclose(result.size[[1, 2, 3]], [0.1, 0.1, 0.1])  # one unit each, never the stack
    np.testing.assert_allclose(result.indicators["grid_target"], [0.4, 0.5, 0.6, 0.7])


def test_grid_buys_every_line_a_single_candle_falls_through_in_one_order():
    result = grid_every_10([155, 128])
    assert flags(result.entry_long) == [1]
    assert result.size[1] == pytest.approx(0.3)  # 150, 140 and 130


def test_grid_sells_at_the_first_line_crossed_back_up():
    result = grid_every_10([155, 145, 135, 148, 152])
    assert flags(result.entry_long) == [1, 2]
    assert flags(result.exit_long) == [3, 4]  # 148 is back above 140, 152 above 150
    assert np.isnan(result.size[[0, 3, 4]]).all()


def test_grid_counts_a_close_on_a_line_as_above_it():
    result = grid_every_10([150, 149.99, 150])
    assert flags(result.entry_long) == [1]
    assert flags(result.exit_long) == [2]


def test_grid_does_nothing_while_the_close_stays_between_two_lines():
    result = grid_every_10([151, 155, 159.9, 150, 151])
    assert not result.entry_long.any() and not result.exit_long.any()


def test_grid_wants_its_whole_inventory_below_its_range_and_none_at_its_top():
    result = grid_every_10([195, 190, 90, 50])
    np.testing.assert_allclose(result.indicators["grid_target"], [0, 0, 1, 1])
    assert flags(result.entry_long) == [2] and result.size[2] == pytest.approx(1.0)
    assert not result.exit_long.any()


def test_grid_decides_on_the_last_two_closes_whatever_came_before():
    after_a_fall, after_a_rise = grid_every_10([195, 110, 145, 135]), grid_every_10([105, 180, 145, 135])
    for result in (after_a_fall, after_a_rise):
        assert result.entry_long[-1] and not result.exit_long[-1]
        assert result.size[-1] == pytest.approx(0.1)
        assert result.indicators["grid_target"][-1] == pytest.approx(0.6)


def test_grid_refuses_fewer_than_two_lines_and_a_low_above_its_high():
    with pytest.raises(InvalidParamsError) as too_few:
        strategy_build("grid", {"levels": 1})
    assert "levels" in too_few.value.errors
    with pytest.raises(InvalidParamsError) as upside_down:
        strategy_build("grid", {"low": 200, "high": 100})
    assert "must be less than high" in upside_down.value.errors["low"]


def test_a_one_position_backtest_holds_the_first_grid_buy_until_the_next_sell():
    candles = candles_from_closes([155, 145, 135, 125, 138, 150])
    grid = strategy_build("grid", {"low": 100, "high": 190, "levels": 10})
    result = backtest({"X": candles}, grid, BacktestConfig(fees=FeeSchedule(taker=0.0, maker=0.0, slippage_bps=0.0)))
    [trade] = result.trades
    assert (trade.entry_bar, trade.exit_bar) == (2, 5)  # bought after 145, the buys at 135 and 125 add nothing
    assert trade.quantity == pytest.approx(0.1 * 10_000 / 145)  # one unit of the first buy
    assert trade.exit_price == 138  # the whole position goes at the first line back up


# --- Multi-timeframe ---------------------------------------------------------------------------

MTF_PARAMS = {"trend_period": 2, "fast": 2, "slow": 3}


def trend_with_pullback(direction: float) -> np.ndarray:
    """400 15m closes trending `direction` per candle, with a 3-candle move against it at 300."""
    steps = np.full(400, direction)
    steps[300:303] = -5 * direction
    return 100 * np.cumprod(1 + steps)


def test_mtf_buys_the_fast_cross_when_the_closed_4h_trend_is_up():
    candles = with_trend_candles(candles_from_closes(trend_with_pullback(0.002), timeframe="15m"), "4h")
    result = strategy_build("mtf_trend", MTF_PARAMS).signals(candles)
    [entry] = flags(result.entry_long)
    assert 303 <= entry < 310
    assert result.indicators["trend_close"][entry] > result.indicators["trend_ema"][entry]


def test_mtf_does_not_buy_the_same_cross_against_a_4h_downtrend():
    candles = with_trend_candles(candles_from_closes(trend_with_pullback(-0.002), timeframe="15m"), "4h")
    result = strategy_build("mtf_trend", MTF_PARAMS).signals(candles)
    golden = ind.crossed_above(result.indicators["ema_fast"], result.indicators["ema_slow"])
    assert golden[300:310].any()  # the bounce does cross...
    assert not result.entry_long.any()  # ...but against the trend


def test_mtf_says_which_candles_it_is_missing():
    strategy = strategy_build("mtf_trend")
    with pytest.raises(ValueError, match="needs 4h candles in candles.informative"):
        strategy.signals(candles_from_closes(np.full(10, 1.0), timeframe="15m"))
    with pytest.raises(ValueError, match="set for 15m candles but was given 1m candles"):
        strategy.signals(candles_from_closes(np.full(10, 1.0), timeframe="1m"))


# --- Properties of every registered strategy ----------------------------------------------------


def history_for(name: str, seed: int, *, extra: int = 300, start_minute: int = 0) -> tuple:
    strategy = strategy_build(name)
    timeframe = "15m" if name == "mtf_trend" else "1m"
    candles = random_walk(seed, strategy.warmup_period + extra, timeframe=timeframe, start_ms=3 * DAY + start_minute * 60_000)
    if name == "mtf_trend":
        candles = with_trend_candles(candles, "4h")
    return strategy, candles


def prefix(candles: Candles, count: int) -> Candles:
    """The first `count` candles, with 4h candles built from those only, as a live loader would
    have them then: a 4h candle still open at the end is left out."""
    head = Candles(
        candles.time[:count],
        candles.open[:count],
        candles.high[:count],
        candles.low[:count],
        candles.close[:count],
        candles.volume[:count],
        candles.timeframe,
    )
    return with_trend_candles(head, "4h") if candles.informative else head


def signal_fields(result) -> dict[str, np.ndarray]:
    fields = {
        "entry_long": result.entry_long,
        "exit_long": result.exit_long,
        "entry_short": result.entry_short,
        "exit_short": result.exit_short,
    }
    for key in ("stop_loss", "take_profit", "size"):
        if getattr(result, key) is not None:
            fields[key] = getattr(result, key)
    return {**fields, **{f"indicator {key}": values for key, values in result.indicators.items()}}


@pytest.mark.parametrize("name", sorted(strategy_classes()))
@given(seed=st.integers(0, 2**32 - 1), cut_back=st.integers(0, 299), start_minute=st.integers(0, 1439))
@settings(max_examples=8, deadline=None)
def test_strategy_never_looks_ahead(name, seed, cut_back, start_minute):
    strategy, candles = history_for(name, seed, start_minute=start_minute)
    cut = len(candles) - cut_back
    on_prefix, on_full = signal_fields(strategy.signals(prefix(candles, cut))), signal_fields(strategy.signals(candles))
    assert on_prefix.keys() == on_full.keys()
    for key, values in on_prefix.items():
        assert len(values) == cut, key
        np.testing.assert_array_equal(values, on_full[key][:cut], err_msg=key)


@pytest.mark.parametrize("name", sorted(strategy_classes()))
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=5, deadline=None)
def test_strategy_signals_nothing_before_its_warm_up_and_returns_one_flag_per_candle(name, seed):
    strategy, candles = history_for(name, seed)
    result = strategy.signals(candles)
    for key, values in signal_fields(result).items():
        assert len(values) == len(candles), key
    for flag_array in (result.entry_long, result.exit_long, result.entry_short, result.exit_short):
        assert flag_array.dtype == bool
        assert not flag_array[: strategy.warmup_period - 1].any()


# Strategies whose indicators depend only on a bounded window decide the last candle of a
# live window exactly as the full history does; recursive averages (EMA, Wilder) nearly so.
EXACT_IN_A_WINDOW = ["sma_cross", "bollinger", "donchian", "volume_profile", "vwap_reversion", "grid"]
NEARLY_IN_A_WINDOW = ["rsi", "ema_cross", "macd", "mtf_trend"]


@pytest.mark.parametrize("name", EXACT_IN_A_WINDOW)
@given(seed=st.integers(0, 2**32 - 1), start_minute=st.integers(0, 1439))
@settings(max_examples=5, deadline=None)
def test_a_live_window_of_warmup_period_candles_decides_the_last_candle_like_the_full_history(name, seed, start_minute):
    strategy, candles = history_for(name, seed, start_minute=start_minute)
    on_window = signal_fields(strategy.signals(candles.tail(strategy.warmup_period)))
    on_full = signal_fields(strategy.signals(candles))
    for key in on_full:  # running sums (TA-Lib's SMA, cumulative VWAP) may differ in the last bits
        np.testing.assert_allclose(on_window[key][-1], on_full[key][-1], rtol=1e-9, err_msg=key)


@pytest.mark.parametrize("name", NEARLY_IN_A_WINDOW)
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=5, deadline=None)
def test_a_live_window_sees_nearly_the_indicators_of_the_full_history(name, seed):
    strategy, candles = history_for(name, seed)
    window = candles.tail(strategy.warmup_period)
    if name == "mtf_trend":  # a live loader fetches 4h candles for the window's span only
        window = with_trend_candles(window, "4h")
    on_window, on_full = strategy.signals(window).indicators, strategy.signals(candles).indicators
    for key in on_full:
        assert on_window[key][-1] == pytest.approx(on_full[key][-1], rel=1e-3, abs=0.05), key


def live_window(candles: Candles, end: int, count: int) -> Candles:
    """The `count` candles ending at index `end`, as live evaluation loads them (higher
    timeframes built from the window only)."""
    window = prefix(candles, end + 1).tail(count)
    return with_trend_candles(window, "4h") if candles.informative else window


FLAG_FIELDS = ("entry_long", "exit_long", "entry_short", "exit_short")


@pytest.mark.parametrize("name", sorted(strategy_classes()))
def test_a_live_window_gives_every_registered_strategy_the_signals_of_the_full_history(name):
    """Parity is sold for every strategy: at every candle, a window of warmup_period candles
    ending there must raise exactly the flags the full history raises there. No exceptions:
    a strategy that needs more than its window (a path-dependent one) fails here."""
    compared = raised = 0
    for seed in (1, 7, 42):
        strategy, candles = history_for(name, seed, extra=120)
        on_full = strategy.signals(candles)
        for end in range(strategy.warmup_period - 1, len(candles)):
            on_window = strategy.signals(live_window(candles, end, strategy.warmup_period))
            for key in FLAG_FIELDS:
                assert getattr(on_window, key)[-1] == getattr(on_full, key)[end], f"seed {seed}, candle {end}: {key}"
                raised += bool(getattr(on_full, key)[end])
            compared += 1
    assert raised, f"{name} raised no signal in {compared} candles: the comparison would prove nothing"
