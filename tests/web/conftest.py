"""Fixtures for the web layer: a trader, a market with 1m history, and the collector's write
(a closed candle plus its outbox event in one transaction, exactly as apps/markets records it)."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from apps.common.events import event_record
from apps.markets.models import Candle, CollectorStatus, Exchange, Market

PASSWORD = "correct-horse-battery"


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def candle_close_record(*, market: Market, open_time: datetime, close: Decimal, timeframe: str = "1m"):
    """Store a closed candle and record its candle.closed event, like the collector does."""
    with transaction.atomic():
        candle = Candle.objects.create(
            market=market,
            timeframe=timeframe,
            open_time=open_time,
            open=close - Decimal("5"),
            high=close + Decimal("12.5"),
            low=close - Decimal("9.25"),
            close=close,
            volume=Decimal("3.125"),
        )
        event = event_record(
            "candle.closed",
            {
                "market": market.symbol,
                "timeframe": timeframe,
                "time": int(open_time.timestamp()),
                "open": str(candle.open),
                "high": str(candle.high),
                "low": str(candle.low),
                "close": str(candle.close),
                "volume": str(candle.volume),
            },
            market=market.slug,
            tf=timeframe,
        )
    return candle, event


def candles_seed(*, market: Market, count: int, end: datetime, timeframe: str = "1m") -> list[Candle]:
    """`count` closed 1m candles, the newest opening one minute before `end`."""
    walk = random.Random(7)  # a fixed random walk: ups and downs, the same every run
    rows, close = [], Decimal("43000.00")
    for index in range(count):
        open_ = close
        close = (open_ + Decimal(walk.randint(-2400, 2500)) / 100).quantize(Decimal("0.01"))
        rows.append(
            Candle(
                market=market,
                timeframe=timeframe,
                open_time=end - timedelta(minutes=count - index),
                open=open_,
                close=close,
                high=max(open_, close) + Decimal(walk.randint(0, 900)) / 100,
                low=min(open_, close) - Decimal(walk.randint(0, 900)) / 100,
                volume=Decimal(walk.randint(50, 900)) / 100,
            )
        )
    return Candle.objects.bulk_create(rows)


@pytest.fixture
def trader(django_user_model):
    return django_user_model.objects.create_user(username="trader", password=PASSWORD)


@pytest.fixture
def market():
    exchange = Exchange.objects.create(code="sim", name="Simulated exchange", ccxt_id="binance")
    return Market.objects.create(exchange=exchange, symbol="BTC/USDT", base="BTC", quote="USDT")


@pytest.fixture
def seeded_market(market):
    end = minute_floor(datetime.now(UTC))
    candles_seed(market=market, count=120, end=end)
    CollectorStatus.objects.create(
        market=market,
        timeframe="1m",
        last_candle_time=end - timedelta(minutes=1),
        last_success_at=datetime.now(UTC),
        candles_stored=120,
    )
    return market


@pytest.fixture
def session_cookie(client, trader) -> bytes:
    client.force_login(trader)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture(autouse=True)
def connections_closed_after_each_use(monkeypatch):
    """Websocket, relay and server threads open their own connections; close them after each
    use so PostgreSQL can drop the test database at the end (production keeps CONN_MAX_AGE)."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
