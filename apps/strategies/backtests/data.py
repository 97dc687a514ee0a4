"""Research data into the database: candles from CSV/Parquet files, and the seeded synthetic
market (apps.engine.market_sim). Both write through markets.services.candles_upsert."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
from django.db import transaction

from apps.common.time import utc_datetime
from apps.engine.market_sim import ANCHOR_MS, DEFAULT_SYMBOLS, MarketSim
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.models import Candle, Exchange, Market
from apps.markets.services import CandleRow, candles_upsert
from apps.strategies.backtests.plan import time_parse, timeframe_check
from apps.strategies.backtests.selectors import BacktestError, market_by_symbol

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
TIME_COLUMNS = ("open_time", "time", "timestamp", "datetime", "date")  # the first one the file has wins
GENERATE_CHUNK_DAYS = 20  # bounded memory for long ranges
MAX_GENERATE_DAYS = 3650


@dataclass
class CandlesWritten:
    symbol: str
    timeframe: str
    rows: int
    inserted: int
    first: datetime | None
    last: datetime | None
    created: str = ""  # what the import created (an offline exchange, a market), as a sentence


# --- The synthetic market -----------------------------------------------------------------


def market_generate(
    *, symbols: list[str], days: int, seed: int, timeframes: list[str], exchange: str = "sim", end: str | None = None
) -> list[CandlesWritten]:
    """Closed candles of the last `days` days before `end` (default: now) for each symbol and
    timeframe; creates the exchange and markets when missing. Same seed, same candles."""
    known = {spec.symbol: spec for spec in DEFAULT_SYMBOLS}
    for symbol in symbols:
        if symbol not in known:
            raise BacktestError(f"the synthetic market has no {symbol!r}; it has {', '.join(known)}")
    if not 1 <= days <= MAX_GENERATE_DAYS:
        raise BacktestError(f"--days must be between 1 and {MAX_GENERATE_DAYS}, got {days}")
    for timeframe in timeframes:
        timeframe_check(timeframe, "--timeframe")
    end_moment = time_parse(end, "--end") or datetime.now(UTC)
    end_ms = int(end_moment.timestamp() * 1000)
    if end_ms - days * 86_400_000 - 86_400_000 < ANCHOR_MS:
        raise BacktestError("the synthetic market starts on 2024-01-01 UTC: choose fewer --days or a later --end")
    venue = _exchange_ensure(exchange)
    sim = MarketSim(seed=seed)
    written = []
    for symbol in dict.fromkeys(symbols):
        market = _market_ensure(venue, symbol)
        for timeframe in dict.fromkeys(timeframes):
            written.append(_generate_one(sim, market, timeframe, days, end_ms))
    return written


def _exchange_ensure(code: str) -> Exchange:
    exchange, _ = Exchange.objects.get_or_create(code=code, defaults={"name": code, "ccxt_id": "binance"})
    return exchange


def _market_ensure(exchange: Exchange, symbol: str) -> Market:
    base, _, quote = symbol.partition("/")
    market, _ = Market.objects.get_or_create(exchange=exchange, symbol=symbol, defaults={"base": base, "quote": quote})
    return market


def _generate_one(sim: MarketSim, market: Market, timeframe: str, days: int, end_ms: int) -> CandlesWritten:
    step = TIMEFRAME_SECONDS[timeframe] * 1000
    end_ms -= end_ms % step  # only candles that have closed by `end`
    start_ms = end_ms - days * 86_400_000
    rows = inserted = 0
    first = last = None
    chunk = GENERATE_CHUNK_DAYS * 86_400_000 // step * step
    for lo in range(start_ms, end_ms, chunk):
        candles = sim.candles(market.symbol, timeframe, lo, min(lo + chunk, end_ms))
        candles_rows = sim_rows(candles, tick=market.price_precision, step=market.amount_precision)
        with transaction.atomic():
            inserted += len(candles_upsert(market=market, timeframe=timeframe, rows=candles_rows))
        rows += len(candles_rows)
        if candles_rows:
            first = first or candles_rows[0].open_time
            last = candles_rows[-1].open_time
    return CandlesWritten(market.symbol, timeframe, rows, inserted, first, last)


def sim_rows(candles, *, tick: Decimal, step: Decimal) -> list[CandleRow]:
    """float candles -> CandleRow, prices on the market's tick and volumes on its amount step
    (rounding is monotonic, so low <= open, close <= high still holds)."""
    prices = {name: _on_grid(getattr(candles, name), tick) for name in ("open", "high", "low", "close")}
    volume = _on_grid(candles.volume, step)
    times = [datetime.fromtimestamp(int(ms) / 1000, tz=UTC) for ms in candles.time]
    return [CandleRow(*values) for values in zip(times, prices["open"], prices["high"], prices["low"], prices["close"], volume)]


def _on_grid(values: np.ndarray, unit: Decimal) -> list[Decimal]:
    places = max(-unit.normalize().as_tuple().exponent, 0)
    units = np.round(values / float(unit))
    return [Decimal(f"{value:.{places}f}") for value in units * float(unit)]


# --- Files --------------------------------------------------------------------------------


def candles_import(*, path: str | Path, symbol: str, timeframe: str, exchange: str | None = None) -> CandlesWritten:
    """Candles from a CSV or Parquet file into one market. Every row is checked first; a bad
    row stops the import before anything is written, naming the row. With `exchange`, a
    market (and exchange) not in the database yet is created offline, its tick and step read
    from the file: a researcher with a CSV needs no reachable exchange."""
    timeframe_check(timeframe, "--timeframe")
    market = _import_market(symbol, exchange)
    frame, first_row = _read_table(Path(path))
    rows = _parsed_rows(frame, first_row, timeframe)
    created = ""
    with transaction.atomic():
        if market is None:
            market, created = _offline_market_create(exchange, symbol, rows)
        inserted = candles_upsert(market=market, timeframe=timeframe, rows=rows)
    return CandlesWritten(
        symbol,
        timeframe,
        len(rows),
        len(inserted),
        rows[0].open_time if rows else None,
        rows[-1].open_time if rows else None,
        created,
    )


def _import_market(symbol: str, exchange: str | None) -> Market | None:
    """The market to import into; None when it is to be created (an exchange was named)."""
    if Market.objects.filter(symbol=symbol, **({"exchange__code": exchange} if exchange else {})).exists():
        return market_by_symbol(symbol=symbol, exchange=exchange)
    if not exchange:
        known = ", ".join(sorted(set(Market.objects.values_list("symbol", flat=True)))) or "none"
        raise BacktestError(
            f"market {symbol!r} is not in the database (markets: {known}); to create it from this file, "
            f"name its exchange: --exchange NAME"
        )
    base, sep, quote = symbol.partition("/")
    if not (sep and base.strip() and quote.strip()) or len(symbol) > 40:
        raise BacktestError(f"--symbol {symbol!r}: write it as BASE/QUOTE, e.g. BTC/USDT")
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", exchange):
        raise BacktestError(f"--exchange {exchange!r}: use letters, digits, - and _ only (e.g. kraken)")
    return None


def _offline_market_create(code: str, symbol: str, rows: list[CandleRow]) -> tuple[Market, str]:
    venue, new_exchange = Exchange.objects.get_or_create(code=code, defaults={"name": f"{code} (offline)"})
    base, _, quote = symbol.partition("/")
    tick = _finest_unit(value for row in rows for value in (row.open, row.high, row.low, row.close))
    step = _finest_unit(row.volume for row in rows)
    market = Market.objects.create(
        exchange=venue, symbol=symbol, base=base, quote=quote, price_precision=tick, amount_precision=step
    )
    made = f"exchange {code!r} (offline) and market {symbol}" if new_exchange else f"market {symbol} on {code!r}"
    return market, (
        f"created {made}: tick {tick}, step {step} (the finest in the file), min notional "
        f"{market.min_notional.normalize():f}; change them in the admin if the venue's differ"
    )


def _finest_unit(values) -> Decimal:
    places = max((max(-value.normalize().as_tuple().exponent, 0) for value in values), default=0)
    return Decimal(1).scaleb(-places)


def _read_table(path: Path):
    """The file as a table of strings or numbers, and the number the first data row has in it."""
    import pandas as pd

    if not path.is_file():
        raise BacktestError(f"no such file: {path}")
    suffixes = "".join(path.suffixes).lower()
    try:
        if ".parquet" in suffixes or suffixes.endswith(".pq"):
            frame, first_row = pd.read_parquet(path), 1
        elif ".csv" in suffixes:
            frame, first_row = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True), 2
        else:
            raise BacktestError(f"{path.name}: not a .csv or .parquet file")
    except BacktestError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many kinds; the trader needs the file and the reason
        raise BacktestError(f"{path.name} cannot be read: {str(exc).splitlines()[0]}") from None
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    return frame, first_row


def _parsed_rows(frame, first_row: int, timeframe: str) -> list[CandleRow]:
    time_column = next((name for name in TIME_COLUMNS if name in frame.columns), None)
    missing = [name for name in PRICE_COLUMNS if name not in frame.columns] + ([] if time_column else ["open_time (or time)"])
    if missing:
        raise BacktestError(f"missing column(s): {', '.join(missing)}; the file has: {', '.join(frame.columns) or 'none'}")
    step_ms = TIMEFRAME_SECONDS[timeframe] * 1000
    rows, seen = [], {}
    columns = [frame[time_column].tolist()] + [frame[name].tolist() for name in PRICE_COLUMNS]
    for offset, values in enumerate(zip(*columns)):
        number = first_row + offset
        try:
            row = _row(values, step_ms, timeframe)
        except ValueError as exc:
            raise BacktestError(f"row {number}: {exc}") from None
        if row.open_time in seen:
            raise BacktestError(f"row {number}: open time {row.open_time:%Y-%m-%d %H:%M} repeats row {seen[row.open_time]}")
        seen[row.open_time] = number
        rows.append(row)
    if not rows:
        raise BacktestError("the file has no candle rows")
    return sorted(rows, key=lambda row: row.open_time)


def _row(values, step_ms: int, timeframe: str) -> CandleRow:
    raw_time, *raw_prices = values
    moment = _moment(raw_time)
    if int(moment.timestamp() * 1000) % step_ms:
        raise ValueError(f"open time {moment:%Y-%m-%d %H:%M:%S} is not the start of a {timeframe} candle")
    open_, high, low, close, volume = (_number(value, name) for value, name in zip(raw_prices, PRICE_COLUMNS))
    if not (low <= min(open_, close) and max(open_, close) <= high):
        raise ValueError(f"low {low} and high {high} do not bound open {open_} and close {close}")
    if volume < 0 or low <= 0:
        raise ValueError("prices must be positive and volume not negative")
    return CandleRow(moment, open_, high, low, close, volume)


def _moment(value) -> datetime:
    try:
        return _moment_parse(value)
    except (OverflowError, OSError):  # a number of milliseconds beyond any calendar
        raise ValueError(f"time {_shown(value)} is out of range") from None


def _moment_parse(value) -> datetime:
    if isinstance(value, (int, np.integer)) or (isinstance(value, str) and value.strip().isdigit()):
        if len(str(value).strip()) > 16:
            raise OverflowError
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)  # milliseconds since the epoch
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    try:
        return utc_datetime(value)
    except ValueError:
        raise ValueError(f"time {_shown(value)} is neither milliseconds nor an ISO date") from None


def _number(value, name: str) -> Decimal:
    """A cell as the Decimal the column stores: finite, within the column's digits (a bigger
    one would end the import in a database overflow), rounded to its decimal places."""
    text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {_shown(value)} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{name} {_shown(value)} is not a finite number")
    field = Candle._meta.get_field(name)
    whole_digits = field.max_digits - field.decimal_places
    if number and number.adjusted() >= whole_digits:
        raise ValueError(f"{name} {_shown(value)} is too large to store (at most {whole_digits} digits before the point)")
    if number.as_tuple().exponent < -field.decimal_places:  # finer than stored: round as the column would
        number = number.quantize(Decimal(1).scaleb(-field.decimal_places))
    return number


def _shown(value, limit: int = 24) -> str:
    """A cell in a message: quoted, and cut when long (a 10 KB cell must not flood the terminal)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...' ({len(str(value))} characters)"
