"""Reads for strategy evaluation: candle windows as engine arrays."""

from datetime import datetime

import numpy as np

from apps.engine.strategies.base import Candles
from apps.markets.models import Candle, Market
from apps.strategies.models import Strategy

_FIELDS = ("open", "high", "low", "close", "volume")


def candles_window(*, market: Market | int, timeframe: str, end: datetime, count: int) -> Candles:
    """The `count` newest stored candles with open_time <= end, oldest first, as float64 arrays
    (the engine's currency; Decimal stays outside it)."""
    rows = list(
        Candle.objects.filter(market=market, timeframe=timeframe, open_time__lte=end)
        .order_by("-open_time").values_list("open_time", *_FIELDS)[:count]
    )
    rows.reverse()
    return candles_from_rows(rows, timeframe)


def candles_from_rows(rows: list[tuple], timeframe: str) -> Candles:
    time = np.array([int(row[0].timestamp() * 1000) for row in rows], dtype=np.int64)
    columns = [np.array([float(row[i]) for row in rows], dtype=np.float64) for i in range(1, 6)]
    return Candles(time, *columns, timeframe=timeframe)


def candles_history(*, market: Market | int, timeframe: str) -> Candles:
    """Every stored candle (for backtests and the parity check)."""
    rows = list(Candle.objects.filter(market=market, timeframe=timeframe).order_by("open_time").values_list("open_time", *_FIELDS))
    return candles_from_rows(rows, timeframe)


def strategies_running_on(*, market_id: int, timeframe: str) -> list[int]:
    """Ids of the running strategies that trade this market on this timeframe."""
    return list(Strategy.objects.filter(status=Strategy.Status.RUNNING, timeframe=timeframe, markets=market_id)
                .values_list("pk", flat=True))
