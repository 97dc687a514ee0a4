"""The synthetic market: deterministic, consistent candles that look like a market."""

import numpy as np
import pytest

from apps.engine.market_sim import (
    ANCHOR_MS,
    DAY_MS,
    MINUTE_MS,
    MarketSim,
    candles_aggregate,
)

DAY_100 = ANCHOR_MS + 100 * DAY_MS


def test_a_minute_has_the_same_candle_whatever_range_or_instance_asks_for_it():
    wide = MarketSim(seed=7).candles_1m("BTC/USDT", DAY_100 - DAY_MS, DAY_100 + DAY_MS)
    narrow = MarketSim(seed=7).candles_1m("BTC/USDT", DAY_100 + 5 * MINUTE_MS, DAY_100 + 65 * MINUTE_MS)
    offset = np.searchsorted(wide.time, narrow.time[0])
    assert len(narrow) == 60
    for column in ("time", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(wide, column)[offset : offset + 60], getattr(narrow, column))


def test_another_seed_gives_another_market():
    a = MarketSim(seed=7).candles_1m("ETH/USDT", DAY_100, DAY_100 + DAY_MS)
    b = MarketSim(seed=8).candles_1m("ETH/USDT", DAY_100, DAY_100 + DAY_MS)
    assert not np.allclose(a.close, b.close)


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/USDT", "SOL/USDT"])
def test_every_candle_is_consistent_and_continuous(symbol):
    c = MarketSim(seed=3).candles_1m(symbol, DAY_100, DAY_100 + 5 * DAY_MS)
    assert len(c) == 5 * 1440
    assert np.all(np.diff(c.time) == MINUTE_MS)
    assert np.all(c.low <= np.minimum(c.open, c.close))
    assert np.all(c.high >= np.maximum(c.open, c.close))
    assert np.all(c.volume > 0)
    np.testing.assert_allclose(c.open[1:], c.close[:-1])  # no gaps between minutes, even across days


def test_prices_stay_around_the_symbol_base_price_for_years():
    sim = MarketSim(seed=11)
    for symbol, base in (("BTC/USDT", 60_000), ("ETH/USDT", 3_000), ("SOL/USDT", 150)):
        levels = np.exp(sim.daily_path(symbol).log_level[: 5 * 365])
        assert base / 8 < levels.min() and levels.max() < base * 8  # crypto swings, but stays "about" the base


def test_aggregation_to_higher_timeframes_matches_the_minutes():
    sim = MarketSim(seed=7)
    minutes = sim.candles_1m("SOL/USDT", DAY_100, DAY_100 + DAY_MS)
    hours = sim.candles("SOL/USDT", "1h", DAY_100, DAY_100 + DAY_MS)
    assert len(hours) == 24
    first_hour = slice(0, 60)
    assert hours.time[0] == DAY_100
    assert hours.open[0] == minutes.open[0]
    assert hours.close[0] == minutes.close[59]
    assert hours.high[0] == minutes.high[first_hour].max()
    assert hours.low[0] == minutes.low[first_hour].min()
    assert hours.volume[0] == pytest.approx(minutes.volume[first_hour].sum())
    daily = candles_aggregate(minutes, "1d")
    assert len(daily) == 1 and daily.time[0] % DAY_MS == 0
    assert daily.high[0] == hours.high.max() and daily.low[0] == hours.low.min()


@pytest.mark.parametrize("timeframe, minutes", [("3m", 3), ("5m", 5), ("15m", 15), ("30m", 30), ("4h", 240)])
def test_buckets_are_aligned_to_utc_and_hold_their_minutes(timeframe, minutes):
    candles = MarketSim(seed=7).candles("BTC/USDT", timeframe, DAY_100 + 7 * MINUTE_MS, DAY_100 + DAY_MS)
    assert np.all(candles.time % (minutes * MINUTE_MS) == 0)
    assert np.all(np.diff(candles.time) == minutes * MINUTE_MS)


def test_high_volatility_regimes_move_more_than_low_volatility_ones():
    sim = MarketSim(seed=5)
    days = 300
    minutes = sim.candles_1m("BTC/USDT", ANCHOR_MS, ANCHOR_MS + days * DAY_MS)
    returns = np.diff(np.log(minutes.close)).reshape(-1)
    day_of_return = (np.arange(len(returns)) + 1) // 1440
    regimes = np.array([sim.regime_at("BTC/USDT", ANCHOR_MS + d * DAY_MS) for d in range(days)])
    vol = {name: returns[np.isin(day_of_return, np.flatnonzero(regimes == name))].std() for name in ("high_vol", "low_vol")}
    assert vol["high_vol"] > 3 * vol["low_vol"]
    assert len(set(regimes)) == 5


def test_the_forming_candle_grows_into_the_closed_candle():
    sim = MarketSim(seed=7)
    minute = DAY_100 + 123 * MINUTE_MS
    closed = sim.candles_1m("ETH/USDT", minute, minute + MINUTE_MS)
    previous_high = -np.inf
    for ms in range(0, MINUTE_MS, 5_000):
        open_time, o, h, l, c, v = sim.candle_forming("ETH/USDT", minute + ms)
        assert open_time == minute and o == closed.open[0]
        assert closed.low[0] <= l <= min(o, c) and max(o, c) <= h <= closed.high[0]
        assert h >= previous_high and 0 <= v <= closed.volume[0]
        assert c == sim.price_at("ETH/USDT", minute + ms)
        previous_high = h
    assert sim.price_at("ETH/USDT", minute + MINUTE_MS) == pytest.approx(closed.close[0])


def test_the_price_range_covers_every_price_seen_in_the_window():
    sim = MarketSim(seed=7)
    start, end = DAY_100 + 30_500, DAY_100 + 10 * MINUTE_MS + 12_000
    low, high = sim.price_range("BTC/USDT", start, end)
    seen = [sim.price_at("BTC/USDT", t) for t in range(start, end + 1, 500)]
    assert low <= min(seen) and max(seen) <= high
    full = sim.candles_1m("BTC/USDT", start - 30_500, end + MINUTE_MS)
    assert full.low.min() <= low and high <= full.high.max()


def test_a_time_before_the_market_existed_is_refused_clearly():
    with pytest.raises(ValueError, match="starts on 2024-01-01"):
        MarketSim(seed=7).candles_1m("BTC/USDT", ANCHOR_MS - DAY_MS, ANCHOR_MS + MINUTE_MS)
    with pytest.raises(ValueError, match="unknown symbol"):
        MarketSim(seed=7).price_at("DOGE/USDT", DAY_100)
