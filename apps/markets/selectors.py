"""Reads for market data. Stored candles become the engine's float64 arrays here, at the
boundary, and nowhere else (Decimal stays outside the engine)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db.models import Count, Q, Window
from django.utils import timezone

from apps.engine.strategies.base import Candles
from apps.markets.models import Candle, CollectorStatus, Market
from apps.markets.timeframes import TIMEFRAME_SECONDS

_PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


def collectors_due(*, now: datetime | None = None) -> list[CollectorStatus]:
    """Active collectors whose next candle has closed (or that have nothing yet)."""
    now = now or timezone.now()
    due = []
    for collector in CollectorStatus.objects.filter(active=True, market__active=True).select_related("market"):
        if collector.last_candle_time is None or now >= collector.last_candle_time + 2 * collector.period:
            due.append(collector)
    return due


def collectors_stale(*, now: datetime | None = None, limit: int = 5) -> tuple[list[str], int]:
    """The first `limit` active collectors that are not fresh ("BTC/USDT 1m", by market and
    timeframe) and how many there are: CollectorStatus.is_fresh's rule (the newest candle
    closed less than two periods ago, i.e. opened less than three ago) asked of the database,
    so every page's banner reads a few names and a count, never every collector."""
    now = now or timezone.now()
    stale = Q(last_candle_time__isnull=True)
    for timeframe, seconds in TIMEFRAME_SECONDS.items():
        stale |= Q(timeframe=timeframe, last_candle_time__lte=now - timedelta(seconds=3 * seconds))
    rows = list(
        CollectorStatus.objects.filter(stale, active=True)
        .annotate(stale_count=Window(Count("pk")))
        .order_by("market__symbol", "timeframe")
        .values_list("market__symbol", "timeframe", "stale_count")[:limit]
    )
    return [f"{symbol} {timeframe}" for symbol, timeframe, _ in rows], (rows[0][2] if rows else 0)


def candle_gaps(*, collector: CollectorStatus, lookback: timedelta, now: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Missing runs [start, end) of closed candles between the oldest stored one in the
    lookback window and the newest stored one."""
    if collector.last_candle_time is None:
        return
    window_start = now - lookback
    candles = Candle.objects.filter(
        market_id=collector.market_id,
        timeframe=collector.timeframe,
        open_time__gte=window_start,
        open_time__lte=collector.last_candle_time,
    )
    first = candles.order_by("open_time").values_list("open_time", flat=True).first()
    if first is None:
        return
    period = collector.period
    expected = int((collector.last_candle_time - first) / period) + 1
    if candles.count() >= expected:
        return  # the cheap check: nothing missing
    stored = np.array([int(t.timestamp()) for t in candles.values_list("open_time", flat=True)], dtype=np.int64)
    yield from _missing_runs(np.sort(stored), int(period.total_seconds()))


def _missing_runs(stored_seconds: np.ndarray, period_s: int) -> Iterator[tuple[datetime, datetime]]:
    steps = np.diff(stored_seconds)
    for index in np.nonzero(steps > period_s)[0]:
        start = stored_seconds[index] + period_s
        end = stored_seconds[index + 1]
        yield (datetime.fromtimestamp(start, tz=UTC), datetime.fromtimestamp(end, tz=UTC))


def candles_recent(*, market: Market, timeframe: str, limit: int = 500, before: datetime | None = None) -> list[Candle]:
    queryset = Candle.objects.filter(market=market, timeframe=timeframe)
    if before:
        queryset = queryset.filter(open_time__lt=before)
    return list(reversed(queryset.order_by("-open_time")[:limit]))


def market_find(*, key: str) -> Market | None:
    """A market by id or by slug (BTC-USDT) / symbol (BTC/USDT)."""
    query = Q(symbol=key.replace("-", "/"))
    if key.isdigit():
        query |= Q(pk=int(key))
    return Market.objects.select_related("exchange").filter(query).order_by("pk").first()


def candles_window(*, market: Market | int, timeframe: str, end: datetime, count: int) -> Candles:
    """The `count` newest stored candles with open_time <= end, oldest first: what a strategy
    sees when it evaluates the candle at `end`."""
    rows = list(
        Candle.objects.filter(market=market, timeframe=timeframe, open_time__lte=end)
        .order_by("-open_time")
        .values_list("open_time", *_PRICE_COLUMNS)[:count]
    )
    rows.reverse()
    return _as_arrays(rows, timeframe)


def candles_between(
    *, market: Market | int, timeframe: str, start: datetime | None = None, end: datetime | None = None
) -> Candles:
    """Stored candles with start <= open_time < end (either bound optional), oldest first."""
    rows = Candle.objects.filter(market=market, timeframe=timeframe)
    if start is not None:
        rows = rows.filter(open_time__gte=start)
    if end is not None:
        rows = rows.filter(open_time__lt=end)
    return _as_arrays(
        list(rows.order_by("open_time").values_list("open_time", *_PRICE_COLUMNS).iterator(chunk_size=20_000)), timeframe
    )


def _as_arrays(rows: list[tuple], timeframe: str) -> Candles:
    if not rows:
        empty = np.empty(0, dtype=np.float64)
        return Candles(np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty, timeframe)
    times, *columns = zip(*rows)
    time = np.fromiter((round(moment.timestamp() * 1000) for moment in times), dtype=np.int64, count=len(times))
    arrays = [np.array(column, dtype=np.float64) for column in columns]  # float(Decimal), once per value
    return Candles(time, *arrays, timeframe=timeframe)


def market_scores_latest() -> list:
    """The newest day's pair scores, best first (with their markets)."""
    from apps.markets.models import MarketScore

    day = MarketScore.objects.order_by("-day").values_list("day", flat=True).first()
    if day is None:
        return []
    return list(MarketScore.objects.filter(day=day).select_related("market__exchange").order_by("rank"))


def markets_top_scored(*, market_ids, count: int) -> list[int]:
    """Of `market_ids`, the `count` with the highest score on the newest day scored, best
    first. A market without a score that day is never among them (nothing known, nothing
    chosen): with no scores at all the list is empty."""
    from apps.markets.models import MarketScore

    day = MarketScore.objects.filter(market_id__in=market_ids).order_by("-day").values_list("day", flat=True).first()
    if day is None:
        return []
    rows = MarketScore.objects.filter(day=day, market_id__in=market_ids).order_by("-score", "market_id")
    return list(rows.values_list("market_id", flat=True)[:count])
