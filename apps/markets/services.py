"""Writes for market data: candle upserts and the collector that feeds them."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone

from apps.common import metrics
from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.common.time import utc_datetime
from apps.exchanges.clients import market_data_call, market_data_client
from apps.exchanges.errors import ExchangeCallError, MalformedReplyError
from apps.markets.models import Candle, CollectorStatus, Market
from apps.markets.signals import candles_closed
from apps.markets.timeframes import TIMEFRAME_SECONDS, floor_to_timeframe

log = get_logger(__name__)

PAGE_LIMIT = 1000  # Binance's maximum klines per request
LIVE_EVENT_LIMIT = 10  # more new candles than this at once are announced as one backfill event
GAP_REPAIR_LOOKBACK = timedelta(days=2)
INITIAL_LOOKBACK_CANDLES = 500
_UPSERT_CHUNK = 2000  # SQLite: 16,000 bound parameters per statement
_UPSERT_CHUNK_POSTGRES = 20_000  # eight arrays, whatever the size


@dataclass(frozen=True)
class CandleRow:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass
class CollectResult:
    fetched: int = 0
    inserted: int = 0
    gaps_repaired: int = 0
    inserted_times: list[datetime] = field(default_factory=list)


# --- Parsing the exchange's reply ------------------------------------------------------


def _decimal(value) -> Decimal:
    """ccxt gives floats for OHLCV; repr() keeps the exchange's digits exactly (0.1 -> '0.1')."""
    number = Decimal(value if isinstance(value, str) else repr(value))
    if not number.is_finite():
        raise InvalidOperation(f"not a finite number: {value!r}")
    return number


def candle_row_parse(raw) -> CandleRow:
    """One ccxt OHLCV row -> CandleRow; a malformed row raises MalformedReplyError."""
    try:
        open_ms, open_, high, low, close, volume = raw[:6]
        row = CandleRow(
            open_time=datetime.fromtimestamp(int(open_ms) / 1000, tz=UTC),
            open=_decimal(open_),
            high=_decimal(high),
            low=_decimal(low),
            close=_decimal(close),
            volume=_decimal(volume),
        )
    except (TypeError, ValueError, InvalidOperation, OverflowError) as exc:
        raise MalformedReplyError(f"Malformed candle {raw!r}: {exc}") from exc
    if not (row.low <= min(row.open, row.close) and max(row.open, row.close) <= row.high and row.volume >= 0):
        raise MalformedReplyError(f"Inconsistent candle {raw!r}: low/high do not bound open/close")
    return row


# --- Storing --------------------------------------------------------------------------


def candles_upsert(*, market: Market, timeframe: str, rows: Iterable[CandleRow]) -> list[datetime]:
    """Insert candles that are not stored yet; return the open times actually inserted.

    Closed candles never change, so a conflict means "already have it": ON CONFLICT DO
    NOTHING RETURNING tells exactly which rows are new (one statement per chunk)."""
    rows = list(rows)
    inserted: list[datetime] = []
    chunk = _UPSERT_CHUNK_POSTGRES if connection.vendor == "postgresql" else _UPSERT_CHUNK
    for start in range(0, len(rows), chunk):
        inserted += _upsert_chunk(market, timeframe, rows[start : start + chunk])
    return inserted


def _upsert_chunk(market: Market, timeframe: str, rows: list[CandleRow]) -> list[datetime]:
    if connection.vendor == "postgresql":
        return _upsert_chunk_postgres(market, timeframe, rows)
    ops = connection.ops
    params: list = []
    for row in rows:
        params += [market.pk, timeframe, ops.adapt_datetimefield_value(row.open_time)]
        params += [ops.adapt_decimalfield_value(value) for value in (row.open, row.high, row.low, row.close, row.volume)]
    table = Candle._meta.db_table
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    sql = (
        f'INSERT INTO {table} (market_id, timeframe, open_time, "open", high, low, "close", volume) '
        f"VALUES {placeholders} ON CONFLICT (market_id, timeframe, open_time) DO NOTHING RETURNING open_time"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(_as_utc(value) for (value,) in cursor.fetchall())


_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS candle_stage (open_time timestamptz, open numeric, high numeric, "
    "low numeric, close numeric, volume numeric) ON COMMIT DELETE ROWS"
)


def _upsert_chunk_postgres(market: Market, timeframe: str, rows: list[CandleRow]) -> list[datetime]:
    """PostgreSQL: COPY the rows as text into a session temp table, then one INSERT ...
    SELECT ON CONFLICT DO NOTHING. Binding tens of thousands of parameters spent most of the
    time adapting values (~12-23k candles/s); COPY text moves them at memory speed."""
    text = "".join(f"{r.open_time.isoformat()}\t{r.open}\t{r.high}\t{r.low}\t{r.close}\t{r.volume}\n" for r in rows)
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_DDL)
        with cursor.cursor.copy("COPY candle_stage FROM STDIN") as copy:
            copy.write(text)
        cursor.execute(
            f'INSERT INTO {Candle._meta.db_table} (market_id, timeframe, open_time, "open", high, low, "close", volume) '
            "SELECT %s, %s, open_time, open, high, low, close, volume FROM candle_stage "
            "ON CONFLICT (market_id, timeframe, open_time) DO NOTHING RETURNING open_time",
            [market.pk, timeframe],
        )
        inserted = sorted(value for (value,) in cursor.fetchall())
        cursor.execute("TRUNCATE candle_stage")
    return inserted


def _as_utc(value) -> datetime:
    """RETURNING gives an aware datetime on PostgreSQL, a naive UTC one (or text) on SQLite."""
    return utc_datetime(value)


def _candle_payload(market: Market, timeframe: str, row: CandleRow) -> dict:
    return {
        "market": market.symbol,
        "timeframe": timeframe,
        "time": int(row.open_time.timestamp()),
        "open": str(row.open),
        "high": str(row.high),
        "low": str(row.low),
        "close": str(row.close),
        "volume": str(row.volume),
    }


def candles_store(*, collector: CollectorStatus, rows: list[CandleRow]) -> list[datetime]:
    """Store closed candles and their events in one transaction, under the collector's row
    lock (one writer per market and timeframe, so events are never duplicated)."""
    with transaction.atomic():
        locked = CollectorStatus.objects.select_for_update().select_related("market").get(pk=collector.pk)
        inserted = candles_upsert(market=locked.market, timeframe=locked.timeframe, rows=rows)
        _record_candle_events(locked, rows, inserted)
        if inserted:
            newest = max(inserted)
            if locked.last_candle_time is None or newest > locked.last_candle_time:
                locked.last_candle_time = newest
            locked.candles_stored += len(inserted)
            locked.save(update_fields=["last_candle_time", "candles_stored", "updated_at"])
    collector.refresh_from_db()
    return inserted


def _record_candle_events(collector: CollectorStatus, rows: list[CandleRow], inserted: list[datetime]) -> None:
    if not inserted:
        return
    market, timeframe = collector.market, collector.timeframe
    topic = {"market": market.slug, "tf": timeframe}
    if len(inserted) > LIVE_EVENT_LIMIT:
        payload = {
            "market": market.symbol,
            "timeframe": timeframe,
            "count": len(inserted),
            "from": int(min(inserted).timestamp()),
            "to": int(max(inserted).timestamp()),
        }
        event_record("candles.backfilled", payload, **topic)
        return
    new = set(inserted)
    for row in rows:
        if row.open_time in new:
            event_record("candle.closed", _candle_payload(market, timeframe, row), **topic)


# --- Fetching -------------------------------------------------------------------------


def closed_candles_fetch(
    *,
    client,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime | None = None,
    server_now: datetime,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[list[CandleRow]]:
    """Page through fetch_ohlcv from start; yield pages of CLOSED candles before `end`.

    The still-forming candle (its close is after the exchange's clock) is never yielded."""
    period_ms = TIMEFRAME_SECONDS[timeframe] * 1000
    now_ms = int(server_now.timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000) if end else now_ms
    since = int(start.timestamp() * 1000)
    while since < end_ms:
        raw = market_data_call(client, lambda since=since: client.fetch_ohlcv(symbol, timeframe, since=since, limit=PAGE_LIMIT))
        if not isinstance(raw, list):
            raise MalformedReplyError(f"fetch_ohlcv returned {type(raw).__name__}, expected a list")
        if not raw and since + period_ms <= now_ms:
            # ccxt drops rows it cannot parse, so a garbled reply arrives as an empty page.
            # Candles should have closed in this range by the exchange's own clock: say so.
            raise MalformedReplyError(
                f"The exchange returned no {timeframe} candles for {symbol} from {_iso(since)} although its clock "
                f"is {_iso(now_ms)}: the reply was empty or unreadable"
            )
        page = [candle_row_parse(item) for item in raw]
        closed = [row for row in page if since <= _ms(row.open_time) < end_ms and _ms(row.open_time) + period_ms <= now_ms]
        if closed:
            yield closed
        if on_page:
            on_page(len(closed))
        if not page or _ms(page[-1].open_time) < since:
            return
        since = _ms(page[-1].open_time) + period_ms


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def exchange_now(client) -> datetime:
    """The exchange's clock (the simulated exchange may run faster than ours)."""
    server_ms = market_data_call(client, client.fetch_time)
    if not isinstance(server_ms, int | float):
        raise MalformedReplyError(f"fetch_time returned {server_ms!r}")
    return datetime.fromtimestamp(server_ms / 1000, tz=UTC)


# --- The collector --------------------------------------------------------------------


def collector_run(*, collector_id: int, client=None) -> CollectResult:
    """Fetch the closed candles since the last stored one, repair recent gaps, record the
    outcome on the collector. Exchange errors are recorded, never raised into a crash loop."""
    result = CollectResult()
    collector = CollectorStatus.objects.select_related("market__exchange").filter(pk=collector_id).first()
    if collector is None:
        log.info("collector gone before its task ran", collector_id=collector_id)
        return result
    client = client or market_data_client(collector.market.exchange)
    try:
        server_now = exchange_now(client)
        _collect_new(collector, client, server_now, result)
        _repair_gaps(collector, client, server_now, result)
    except ExchangeCallError as error:
        collector_error_record(collector=collector, error=error)
        return result
    _record_success(collector)
    if result.inserted_times:  # committed by now (one transaction per page)
        candles_closed.send(
            sender=CollectorStatus, market_id=collector.market_id, timeframe=collector.timeframe, open_times=result.inserted_times
        )
    log.info(
        "candles collected",
        market=collector.market.symbol,
        timeframe=collector.timeframe,
        fetched=result.fetched,
        inserted=result.inserted,
        gaps_repaired=result.gaps_repaired,
    )
    return result


def _collect_new(collector: CollectorStatus, client, server_now: datetime, result: CollectResult) -> None:
    if collector.last_candle_time:
        start = collector.last_candle_time + collector.period
    else:
        start = floor_to_timeframe(server_now, collector.timeframe) - INITIAL_LOOKBACK_CANDLES * collector.period
    _fetch_and_store(collector, client, start, None, server_now, result)


def _fetch_and_store(collector, client, start, end, server_now, result: CollectResult) -> int:
    inserted_here = 0
    for page in closed_candles_fetch(
        client=client,
        symbol=collector.market.symbol,
        timeframe=collector.timeframe,
        start=start,
        end=end,
        server_now=server_now,
    ):
        inserted = candles_store(collector=collector, rows=page)
        result.fetched += len(page)
        result.inserted += len(inserted)
        result.inserted_times += inserted
        inserted_here += len(inserted)
    return inserted_here


def _repair_gaps(collector: CollectorStatus, client, server_now: datetime, result: CollectResult) -> None:
    from apps.markets.selectors import candle_gaps

    for gap_start, gap_end in candle_gaps(collector=collector, lookback=GAP_REPAIR_LOOKBACK, now=server_now):
        result.gaps_repaired += _fetch_and_store(collector, client, gap_start, gap_end, server_now, result)


def _record_success(collector: CollectorStatus) -> None:
    CollectorStatus.objects.filter(pk=collector.pk).update(
        last_success_at=timezone.now(), consecutive_errors=0, updated_at=timezone.now()
    )


def collector_error_record(*, collector: CollectorStatus, error: ExchangeCallError) -> None:
    """Keep the error on the collector row (shown in the admin, counted in /metrics)."""
    with transaction.atomic():
        locked = CollectorStatus.objects.select_for_update().get(pk=collector.pk)
        counts = dict(locked.error_counts)
        counts[error.error_class] = counts.get(error.error_class, 0) + 1
        locked.error_counts = counts
        locked.last_error_at = timezone.now()
        locked.last_error_class = error.error_class
        locked.last_error = str(error)[:2000]
        locked.consecutive_errors += 1
        locked.save()
    metrics.api_errors.labels(collector.market.exchange.code, error.error_class).inc()
    log.warning(
        "candle collection failed",
        market=collector.market.symbol,
        timeframe=collector.timeframe,
        error_class=error.error_class,
        error=str(error)[:300],
    )


def candles_backfill(
    *,
    market: Market,
    timeframe: str,
    start: datetime,
    end: datetime,
    client=None,
    on_page: Callable[[int], None] | None = None,
) -> CollectResult:
    """Fetch and store every closed candle in [start, end) (manage.py fetch_candles)."""
    collector, _ = CollectorStatus.objects.get_or_create(market=market, timeframe=timeframe)
    client = client or market_data_client(market.exchange)
    result = CollectResult()
    server_now = exchange_now(client)
    for page in closed_candles_fetch(
        client=client,
        symbol=market.symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        server_now=server_now,
        on_page=on_page,
    ):
        inserted = candles_store(collector=collector, rows=page)
        result.fetched += len(page)
        result.inserted += len(inserted)
    _record_success(collector)  # a fetch that worked: the page must not say "last run never" next to fresh data
    return result


# --- Markets as the exchange defines them ---------------------------------------------


class MarketNotOfferedError(ValueError):
    pass


def market_spec_fetch(*, exchange, symbol: str, client=None) -> dict:
    """The exchange's definition of a symbol as Decimal fields for Market; raises
    MarketNotOfferedError (with the symbols it does offer) or ExchangeCallError."""
    client = client or market_data_client(exchange)
    markets = market_data_call(client, client.load_markets, attempts=2)
    spec = markets.get(symbol)
    if spec is None or not spec.get("spot", True):
        offered = ", ".join(sorted(s for s, m in markets.items() if m.get("spot", True))[:12])
        raise MarketNotOfferedError(f"{symbol} is not traded on {exchange.name}. It offers: {offered}")
    limits = spec.get("limits") or {}
    return {
        "base": spec["base"],
        "quote": spec["quote"],
        "price_precision": _decimal(spec["precision"]["price"]),
        "amount_precision": _decimal(spec["precision"]["amount"]),
        "min_notional": _decimal((limits.get("cost") or {}).get("min") or 0),
        "taker_fee": _decimal(spec["taker"]) if spec.get("taker") is not None else Decimal("0.001"),
    }


def timeframes_offered(*, exchange) -> list[str]:
    """Timeframes the exchange's API offers (ccxt knows them without a request)."""
    import ccxt

    return list(getattr(ccxt, exchange.ccxt_id)().timeframes or {})


# --- Operator: switching a collector on or off -------------------------------------------


def collector_active_set(*, actor, collector_id: int, active: bool, via: str | None = None) -> CollectorStatus:
    """Enable or disable one collector (the admin role: market data is the whole desk's).
    Audited, refusals too."""
    from apps.common.audit import audit_record, audit_refusals
    from apps.common.errors import NotFound
    from apps.exchanges.authorize import account_action_authorize
    from apps.exchanges.roles import Role

    doing = "enable a collector" if active else "disable a collector"
    with audit_refusals(
        actor=actor, via=via, action="collector.active_set", object_type=CollectorStatus._meta.label_lower, object_id=collector_id
    ):
        account_action_authorize(actor=actor, account_id=None, role=Role.ADMIN, doing=doing, missing="")
        with transaction.atomic():
            collector = CollectorStatus.objects.select_for_update().select_related("market").filter(pk=collector_id).first()
            if collector is None:
                raise NotFound(f"no collector #{collector_id}")
            before = collector.active
            collector.active = active
            collector.save(update_fields=["active", "updated_at"])
            audit_record(
                actor=actor,
                via=via,
                action="collector.active_set",
                obj=collector,
                before={"active": before},
                after={"active": active},
            )
    return collector
