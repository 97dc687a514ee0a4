"""Timeframes for models and dates: choices and datetime helpers over the engine's one table."""

from datetime import datetime, timedelta

from apps.engine.timeframes import TIMEFRAME_SECONDS

TIMEFRAME_CHOICES = [(name, name) for name in TIMEFRAME_SECONDS]


def timeframe_delta(timeframe: str) -> timedelta:
    return timedelta(seconds=TIMEFRAME_SECONDS[timeframe])


def floor_to_timeframe(moment: datetime, timeframe: str) -> datetime:
    seconds = TIMEFRAME_SECONDS[timeframe]
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=moment.tzinfo)
