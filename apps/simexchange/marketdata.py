"""Public market data in Binance's shapes, read from the synthetic market at the sim clock.

Klines hold closed candles and, last, the forming one (like Binance). Prices are rounded to
the market's tick size so that candles, tickers and fills agree.
"""

from __future__ import annotations

import numpy as np

from apps.engine.market_sim import MINUTE_MS, MarketSim, candles_aggregate
from apps.engine.strategies.base import Candles
from apps.engine.timeframes import TIMEFRAME_MS
from apps.simexchange.errors import BinanceError, bad_param
from apps.simexchange.markets import MarketRules

MAX_KLINES = 1000
DEFAULT_KLINES = 500


def interval_ms(interval: str) -> int:
    """Binance offers the timeframes of the table only."""
    try:
        return TIMEFRAME_MS[interval]
    except KeyError:
        raise BinanceError(400, -1120, "Invalid interval.") from None


def kline_window(
    *, step: int, start: int | None, end: int | None, limit: int, now_ms: int, history_start_ms: int
) -> tuple[int, int]:
    """First and last bucket open time to answer (last < first means none)."""
    if not 1 <= limit <= MAX_KLINES:
        raise bad_param("Param 'limit' must be between 1 and 1000.")
    lower = history_start_ms - history_start_ms % step
    upper = now_ms - now_ms % step
    if end is not None:
        upper = min(upper, end - end % step)
    if start is not None:
        first = max(lower, -(-start // step) * step)
        return first, min(upper, first + (limit - 1) * step)
    return max(lower, upper - (limit - 1) * step), upper


def candles_with_forming(market: MarketSim, symbol: str, *, step: int, first: int, last: int, now_ms: int) -> Candles:
    """1m candles from first to the end of bucket `last`, the forming minute included."""
    current_minute = now_ms - now_ms % MINUTE_MS
    closed = market.candles_1m(symbol, first, min(last + step, current_minute))
    if last + step <= current_minute:
        return closed
    t, o, h, l, c, v = market.candle_forming(symbol, now_ms)
    return Candles(
        np.append(closed.time, t),
        np.append(closed.open, o),
        np.append(closed.high, h),
        np.append(closed.low, l),
        np.append(closed.close, c),
        np.append(closed.volume, v),
    )


def klines(
    market: MarketSim,
    rules: MarketRules,
    *,
    interval: str,
    start: int | None,
    end: int | None,
    limit: int,
    now_ms: int,
    history_start_ms: int,
) -> list[list]:
    step = interval_ms(interval)
    first, last = kline_window(step=step, start=start, end=end, limit=limit, now_ms=now_ms, history_start_ms=history_start_ms)
    if last < first:
        return []
    minutes = candles_with_forming(market, rules.symbol, step=step, first=first, last=last, now_ms=now_ms)
    bars = candles_aggregate(minutes, interval)
    tick = float(rules.tick_size)
    decimals = max(0, -rules.tick_size.as_tuple().exponent)
    rows = []
    for i in range(len(bars)):
        o, h, l, c = (round(round(x / tick) * tick, decimals) for x in (bars.open[i], bars.high[i], bars.low[i], bars.close[i]))
        v = float(bars.volume[i])
        quote = v * (o + c) / 2
        rows.append(
            [
                int(bars.time[i]),
                f"{o:.8f}",
                f"{h:.8f}",
                f"{l:.8f}",
                f"{c:.8f}",
                f"{v:.8f}",
                int(bars.time[i]) + step - 1,
                f"{quote:.8f}",
                max(1, int(v * 7)),
                f"{v * 0.5:.8f}",
                f"{quote * 0.5:.8f}",
                "0",
            ]
        )
    return rows


def ticker_24hr(market: MarketSim, rules: MarketRules, *, now_ms: int, last_price) -> dict:
    day = 1440 * MINUTE_MS
    minutes = candles_with_forming(
        market,
        rules.symbol,
        step=MINUTE_MS,
        first=now_ms - now_ms % MINUTE_MS - day + MINUTE_MS,
        last=now_ms - now_ms % MINUTE_MS,
        now_ms=now_ms,
    )
    open_, high, low = (rules.price_round(x) for x in (minutes.open[0], minutes.high.max(), minutes.low.min()))
    last = last_price
    high, low = max(high, last), min(low, last)
    volume = float(minutes.volume.sum())
    quote_volume = float((minutes.volume * minutes.close).sum())
    change = last - open_
    bid, ask = book_top(rules, last)
    return {
        "symbol": rules.market_id,
        "priceChange": rules.price_text(change),
        "priceChangePercent": f"{float(change / open_ * 100):.3f}",
        "weightedAvgPrice": f"{quote_volume / volume:.8f}",
        "prevClosePrice": rules.price_text(open_),
        "lastPrice": rules.price_text(last),
        "lastQty": "0.01000000",
        "bidPrice": rules.price_text(bid),
        "bidQty": "1.00000000",
        "askPrice": rules.price_text(ask),
        "askQty": "1.00000000",
        "openPrice": rules.price_text(open_),
        "highPrice": rules.price_text(high),
        "lowPrice": rules.price_text(low),
        "volume": f"{volume:.8f}",
        "quoteVolume": f"{quote_volume:.8f}",
        "openTime": now_ms - day,
        "closeTime": now_ms,
        "firstId": 1,
        "lastId": max(1, int(volume * 7)),
        "count": max(1, int(volume * 7)),
    }


def book_top(rules: MarketRules, price):
    return price - rules.tick_size, price + rules.tick_size


def book_ticker(rules: MarketRules, price) -> dict:
    bid, ask = book_top(rules, price)
    return {
        "symbol": rules.market_id,
        "bidPrice": rules.price_text(bid),
        "bidQty": "1.00000000",
        "askPrice": rules.price_text(ask),
        "askQty": "1.00000000",
    }


def depth(rules: MarketRules, price, *, limit: int, update_id: int) -> dict:
    if not 1 <= limit <= 5000:
        raise bad_param("Param 'limit' must be between 1 and 5000.")
    levels = range(1, limit + 1)
    return {
        "lastUpdateId": update_id,
        "bids": [[rules.price_text(price - rules.tick_size * k), f"{0.5 * k:.8f}"] for k in levels],
        "asks": [[rules.price_text(price + rules.tick_size * k), f"{0.5 * k:.8f}"] for k in levels],
    }
