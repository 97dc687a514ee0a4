from datetime import UTC, datetime, timedelta
from decimal import Decimal

from apps.markets.models import CollectorStatus, Exchange, Market
from apps.markets.services import CandleRow


def exchange_make(*, api_url: str = "http://127.0.0.1:1") -> Exchange:
    return Exchange.objects.get_or_create(
        code="sim", defaults={"name": "Simulated exchange", "ccxt_id": "binance", "api_url": api_url}
    )[0]


def market_make(*, symbol: str = "BTC/USDT", api_url: str = "http://127.0.0.1:1") -> Market:
    base, quote = symbol.split("/")
    return Market.objects.get_or_create(
        exchange=exchange_make(api_url=api_url), symbol=symbol, defaults={"base": base, "quote": quote}
    )[0]


def collector_make(*, symbol: str = "BTC/USDT", timeframe: str = "1m", api_url: str = "http://127.0.0.1:1") -> CollectorStatus:
    return CollectorStatus.objects.get_or_create(market=market_make(symbol=symbol, api_url=api_url), timeframe=timeframe)[0]


def candle_rows(*, count: int, start: datetime = datetime(2026, 11, 1, tzinfo=UTC), period_s: int = 60) -> list[CandleRow]:
    rows = []
    for index in range(count):
        price = Decimal("60000.10") + index
        rows.append(
            CandleRow(
                open_time=start + timedelta(seconds=index * period_s),
                open=price,
                high=price + Decimal("5.5"),
                low=price - Decimal("4.25"),
                close=price + 1,
                volume=Decimal("12.345678"),
            )
        )
    return rows
