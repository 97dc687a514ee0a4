"""The desk's ccxt client reads markets, candles, tickers and balances from the simulated exchange."""

import numpy as np

from apps.engine.market_sim import MINUTE_MS


def test_the_desk_client_loads_the_three_markets_with_binance_filters(client):
    markets = client.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT"} <= set(markets)
    btc = markets["BTC/USDT"]
    assert btc["spot"] and btc["id"] == "BTCUSDT"
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5


def test_server_time_is_the_simulated_clock(sim, client):
    assert abs(client.fetch_time() - sim.clock.now_ms()) < 5_000


def test_ohlcv_pages_through_closed_candles_that_match_the_synthetic_market(sim, client):
    since = sim.history_start_ms
    first = client.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=100)
    second = client.fetch_ohlcv("BTC/USDT", "1m", since=first[-1][0] + MINUTE_MS, limit=100)
    rows = np.array(first + second)
    assert len(rows) == 200
    assert np.all(np.diff(rows[:, 0]) == MINUTE_MS) and rows[0, 0] == since
    expected = sim.market.candles_1m("BTC/USDT", since, since + 200 * MINUTE_MS)
    for column, name in enumerate(("open", "high", "low", "close"), start=1):
        np.testing.assert_allclose(rows[:, column], np.round(getattr(expected, name), 2), atol=0.005)
    np.testing.assert_allclose(rows[:, 5], expected.volume, rtol=1e-6)


def test_the_latest_kline_is_the_forming_candle_at_the_current_price(sim, client):
    # The price is read before the request: the forming candle's range includes every price
    # so far (read after, the price may already have moved beyond it on a loaded machine).
    last_price = float(sim.engine.price_now("ETH/USDT"))
    rows = client.fetch_ohlcv("ETH/USDT", "1m", limit=3)
    now = sim.clock.now_ms()
    assert rows[-1][0] == now - now % MINUTE_MS
    assert rows[-2][0] == rows[-1][0] - MINUTE_MS
    assert rows[-1][3] <= last_price <= rows[-1][2]


def test_higher_timeframes_are_aggregated_like_binance(sim, client):
    rows = client.fetch_ohlcv("SOL/USDT", "1h", since=sim.history_start_ms - sim.history_start_ms % 3_600_000, limit=5)
    expected = sim.market.candles("SOL/USDT", "1h", rows[0][0], rows[-1][0] + 3_600_000)
    assert [r[0] for r in rows] == list(expected.time)
    np.testing.assert_allclose([r[2] for r in rows], np.round(expected.high, 2), atol=0.005)
    np.testing.assert_allclose([r[5] for r in rows], expected.volume, rtol=1e-6)


def test_candles_before_the_served_history_are_not_invented(sim, client):
    rows = client.fetch_ohlcv("BTC/USDT", "1m", since=sim.history_start_ms - 10 * MINUTE_MS, limit=5)
    assert rows[0][0] == sim.history_start_ms


def test_ticker_and_order_book_follow_the_current_price(sim, client):
    ticker = client.fetch_ticker("BTC/USDT")
    price = float(sim.engine.price_now("BTC/USDT"))
    assert abs(ticker["last"] - price) / price < 0.001
    assert ticker["bid"] < ticker["ask"] and ticker["low"] <= ticker["last"] <= ticker["high"]
    book = client.fetch_order_book("BTC/USDT", 5)
    assert book["bids"][0][0] < book["asks"][0][0]
    assert set(client.fetch_tickers()) >= {"BTC/USDT", "ETH/USDT", "SOL/USDT"}


def test_a_new_account_starts_with_100000_usdt(client):
    balance = client.fetch_balance()
    assert balance["USDT"]["free"] == 100_000 and balance["USDT"]["used"] == 0
