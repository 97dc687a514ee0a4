"""A desk full of data, fast, in a database of its own: the seed of bench/api_load.py,
bench/pages.py and the API's live contract run (.ci/api_contract.py).

`bench_database(name)` makes a fresh PostgreSQL database next to DATABASE_URL's and points the
process at it; `django_ready()` sets Django up and migrates; `desk_seed(...)` fills it: bulk
inserts, COPY on PostgreSQL for the big tables (orders, their events, candles, snapshots).
Every account has one trader member holding a trade token; the keys come back in the Seed."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"
START = datetime(2025, 12, 1, tzinfo=UTC)


def bench_database_url(name: str) -> str:
    """The URL of bench database `name` beside DATABASE_URL's (default: local), named after it
    too (`td_x` -> `td_x_bench_pages`): two checkouts benching at once on one server each keep
    their own. The process's DATABASE_URL now names it."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tradedesk")
    if not base.startswith(("postgres://", "postgresql://")):
        base = "postgres://postgres@127.0.0.1:5432/tradedesk"
    server, own = base.split("?", 1)[0].rsplit("/", 1)
    if not own.endswith(f"_{name}"):
        own = f"{own}_{name}"
    url = f"{server}/{own}"
    os.environ["DATABASE_URL"] = url
    return url


def bench_database(name: str) -> str:
    """A fresh PostgreSQL database for bench `name` (bench_database_url); returns its URL."""
    import psycopg

    url = bench_database_url(name)
    server, own = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{own}"')
    return url


# Secrets of the throw-away bench databases: the seeding process and the server it starts must
# share them (account keys are encrypted with FIELD_ENCRYPTION_KEY).
BENCH_SECRETS = {
    "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
    "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=",
    "DESK_ENV_FILE": os.devnull,
}


def django_ready() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")
    for name, value in BENCH_SECRETS.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass
class Seed:
    accounts: list = field(default_factory=list)
    markets: list = field(default_factory=list)
    traders: dict = field(default_factory=dict)  # account id -> username
    keys: dict = field(default_factory=dict)  # account id -> the trader's trade token


def desk_seed(
    *,
    accounts: int = 10,
    markets: int = 100,
    strategies: int = 10,
    positions: int = 1_000,
    orders: int = 100_000,
    candles: int = 0,
    snapshot_hours: int = 24,
) -> Seed:
    """`positions` open positions and `orders` filled orders (one event each) spread over the
    accounts, `candles` 1h candles spread over the markets, an hourly portfolio snapshot of each
    account for `snapshot_hours` hours, and `strategies` strategies."""
    from django.contrib.auth.models import Group, User

    from apps.api.tokens import api_token_create
    from apps.exchanges.models import AccountMembership, ExchangeAccount
    from apps.markets.models import CollectorStatus, Exchange, Market
    from apps.strategies.models import Strategy
    from apps.trading.models import Balance, Position

    seed = Seed()
    exchange, _ = Exchange.objects.get_or_create(
        code="sim", defaults={"name": "Simulated exchange", "ccxt_id": "binance", "api_url": "http://127.0.0.1:1"}
    )
    seed.markets = Market.objects.bulk_create(
        Market(
            exchange=exchange,
            symbol=f"C{i:03d}/USDT",
            base=f"C{i:03d}",
            quote="USDT",
            amount_precision=Decimal("0.0001"),
            price_precision=Decimal("0.01"),
            min_notional=Decimal("5"),
        )
        for i in range(markets)
    )
    CollectorStatus.objects.bulk_create(
        CollectorStatus(market=market, timeframe="1h", last_candle_time=START) for market in seed.markets
    )
    trader_group = Group.objects.get(name="trader")
    for i in range(accounts):
        account = ExchangeAccount.objects.create(
            name=f"account {i}", exchange=exchange, mode=ExchangeAccount.Mode.PAPER, api_key="k" * 16, api_secret="s" * 32
        )
        Balance.objects.create(account=account, asset="USDT", free=Decimal("100000"))
        user = User.objects.create_user(username=f"trader{i}", password=PASSWORD, is_staff=True)
        user.groups.add(trader_group)
        AccountMembership.objects.create(account=account, user=user)
        seed.accounts.append(account)
        seed.traders[account.pk] = user.username
        seed.keys[account.pk] = api_token_create(actor=None, user=user, name="bench", scope="trade", via="command").key
    strategy_rows = Strategy.objects.bulk_create(
        Strategy(
            name=f"strategy {i}",
            kind="ema_cross",
            params={"fast": 9, "slow": 21, "allow_short": False},
            account=seed.accounts[i % accounts],
            timeframe="1h",
            allocation_value=Decimal("100"),
        )
        for i in range(strategies)
    )
    for i, strategy in enumerate(strategy_rows):
        strategy.markets.set([seed.markets[i % markets]])
    Position.objects.bulk_create(
        Position(
            account=seed.accounts[i % accounts],
            market=seed.markets[(i // accounts) % markets],
            strategy=strategy_rows[i % strategies] if strategies else None,
            amount=Decimal("0.5"),
            average_entry=Decimal("100"),
            last_price=Decimal("101"),
            unrealized_pnl=Decimal("0.5"),
        )
        for i in range(positions)
    )
    _orders_copy(seed, orders)
    _candles_copy(seed.markets, candles)
    _snapshots_copy(seed.accounts, snapshot_hours)
    _analyze()
    return seed


def _orders_copy(seed: Seed, count: int) -> None:
    from apps.trading.models import Order, OrderEvent

    accounts, markets = seed.accounts, seed.markets
    now = START

    def order(i):
        created = now + timedelta(seconds=i)
        return {
            "account_id": accounts[i % len(accounts)].pk,
            "market_id": markets[i % len(markets)].pk,
            "client_order_id": f"bench-{i:09d}",
            "venue_order_id": f"v{i}",
            "side": "buy" if i % 2 else "sell",
            "type": "market",
            "reduce_only": False,
            "price": Decimal("100"),
            "amount": Decimal("0.5"),
            "filled": Decimal("0.5"),
            "average_price": Decimal("100.05"),
            "status": "filled",
            "reason": "",
            "submit_attempts": 1,
            "submitted_at": created,
            "resolve_attempts": 0,
            "created_at": created,
            "updated_at": created,
        }

    rows_copy(Order, (order(i) for i in range(count)))
    # read before the COPY starts: no other query may run on the connection during one
    ids = list(Order.objects.filter(client_order_id__startswith="bench-").order_by("id").values_list("id", flat=True))
    rows_copy(
        OrderEvent,
        (
            {
                "order_id": order_id,
                "created_at": now + timedelta(seconds=i, milliseconds=80),
                "from_status": "submitting",
                "to_status": "filled",
                "cause": "exchange reply",
                "data": "{}",
            }
            for i, order_id in enumerate(ids)
        ),
    )


def _candles_copy(markets: list, count: int) -> None:
    from apps.markets.models import Candle

    if not count:
        return
    per_market = max(1, count // len(markets))

    def candle(i):
        price = Decimal(100) + Decimal(i % 500) / 10
        return {
            "market_id": markets[i // per_market % len(markets)].pk,
            "timeframe": "1h",
            "open_time": START - timedelta(hours=per_market - 1 - i % per_market),  # the newest at START
            "open": price,
            "high": price + 1,
            "low": price - 1,
            "close": price,
            "volume": Decimal(10),
        }

    rows_copy(Candle, (candle(i) for i in range(per_market * len(markets))))


def _snapshots_copy(accounts: list, hours: int) -> None:
    from apps.trading.models import PortfolioSnapshot

    def snapshot(account, hour):
        equity = Decimal(100_000) + Decimal(hour % 977) - Decimal(hour % 313)
        return {
            "account_id": account.pk,
            "taken_at": START - timedelta(hours=hours - hour),
            "equity": equity,
            "cash": equity,
            "positions_value": Decimal(0),
            "realized_pnl": Decimal(0),
            "unrealized_pnl": Decimal(0),
        }

    rows_copy(PortfolioSnapshot, (snapshot(account, hour) for account in accounts for hour in range(hours)))


def rows_copy(model, rows) -> None:
    """Insert dicts of column values: COPY on PostgreSQL (the big tables), bulk_create elsewhere."""
    from django.db import connection

    rows = iter(rows)
    if connection.vendor != "postgresql":
        model.objects.bulk_create((model(**row) for row in rows), batch_size=2000)
        return
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    table = model._meta.db_table
    names = ", ".join(f'"{column}"' for column in columns)
    sql = f'COPY "{table}" ({names}) FROM STDIN'
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write_row([first[c] for c in columns])
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
