"""The timeframes the desk knows, as ccxt spells them, and their lengths: the one table that
the engine, the simulated exchange, the collectors, the models and the pages all read."""

import re

TIMEFRAME_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}
TIMEFRAME_SECONDS = {name: ms // 1000 for name, ms in TIMEFRAME_MS.items()}

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([mhdw])$")


def timeframe_ms(timeframe: str) -> int:
    """'15m' -> 900000. Besides the table, any number of minutes, hours, days or weeks (a
    strategy's informative timeframe may be '1w'); months vary in length: not supported."""
    if timeframe in TIMEFRAME_MS:
        return TIMEFRAME_MS[timeframe]
    match = _TIMEFRAME.match(str(timeframe))
    if not match:
        raise ValueError(f"unknown timeframe {timeframe!r}: use a number and m, h, d or w, e.g. '15m', '4h'")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]
