from datetime import UTC, datetime
from decimal import Decimal

from apps.engine.market_sim import ANCHOR_MS, DAY_MS, MarketSim
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.services import CandleRow

START_MS = ANCHOR_MS + 800 * DAY_MS


def synthetic_rows(
    *, symbol: str = "BTC/USDT", count: int, seed: int = 7, start_ms: int = START_MS, timeframe: str = "1m"
) -> list[CandleRow]:
    """Candles from the engine's synthetic market (regimes, jumps: strategies do trade on it),
    rounded to cents as an exchange prints them."""
    candles = MarketSim(seed=seed).candles(symbol, timeframe, start_ms, start_ms + count * TIMEFRAME_SECONDS[timeframe] * 1000)
    cent, unit = Decimal("0.01"), Decimal("0.00001")
    rows = []
    for i in range(len(candles)):
        o, h, l, c = (Decimal(repr(float(x[i]))).quantize(cent) for x in (candles.open, candles.high, candles.low, candles.close))
        rows.append(
            CandleRow(
                open_time=datetime.fromtimestamp(int(candles.time[i]) / 1000, tz=UTC),
                open=o,
                high=max(h, o, c),
                low=min(l, o, c),
                close=c,
                volume=Decimal(repr(float(candles.volume[i]))).quantize(unit),
            )
        )
    return rows
