"""The performance selector (apps/trading/performance.py) on a year of hourly snapshots: one
account and ten accounts together, each with 1,000 round trips, beside the bare read of the
snapshots it starts from (the floor: what any page showing that curve pays).

    .venv/bin/python bench/performance_read.py [--repeat 15]

PostgreSQL (BENCH_PERFORMANCE_URL, default a database of its own, dropped and made again)."""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URL = os.environ.get("BENCH_PERFORMANCE_URL", "postgres://postgres@127.0.0.1:5432/bench_performance")
ACCOUNTS, HOURS, TRIPS = 10, 365 * 24, 1_000


def database_fresh() -> None:
    import psycopg

    name = URL.rsplit("/", 1)[1]
    with psycopg.connect(URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(DATABASE_URL=URL, TRADEDESK_TESTING="1", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> list[int]:
    from apps.exchanges.models import ExchangeAccount
    from apps.markets.models import Exchange, Market
    from apps.trading.models import Fill, Order, PortfolioSnapshot

    exchange = Exchange.objects.create(code="sim", name="sim", ccxt_id="binance", api_url="http://127.0.0.1:1")
    market = Market.objects.create(
        exchange=exchange, symbol="BTC/USDT", base="BTC", quote="USDT", amount_precision=Decimal("0.0001"), min_notional=5
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = []
    for number in range(ACCOUNTS):
        account = ExchangeAccount.objects.create(name=f"bench {number}", exchange=exchange, api_key="k" * 16, api_secret="s" * 32)
        ids.append(account.pk)
        PortfolioSnapshot.objects.bulk_create(
            PortfolioSnapshot(
                account=account,
                taken_at=start + timedelta(hours=hour),
                equity=Decimal(10_000 + (hour * 37) % 500 - 250 + hour // 10),
                cash=Decimal(10_000),
                positions_value=0,
                realized_pnl=0,
                unrealized_pnl=0,
            )
            for hour in range(HOURS)
        )
        orders, fills = [], []
        for trip in range(TRIPS):
            for leg, side in enumerate(("buy", "sell")):
                orders.append(
                    Order(account=account, market=market, client_order_id=f"b{number}-{trip}-{leg}", side=side, amount=Decimal(1))
                )
        Order.objects.bulk_create(orders)
        for index, order in enumerate(orders):
            trip, leg = divmod(index, 2)
            price = Decimal(100 + (trip % 7) - 3 * leg * (trip % 2))
            fills.append(
                Fill(
                    order=order,
                    venue_trade_id=f"t{index}",
                    price=price,
                    amount=Decimal(1),
                    fee=Decimal("0.1"),
                    fee_currency="USDT",
                    traded_at=start + timedelta(hours=trip * 8 + leg * 3),
                )
            )
        Fill.objects.bulk_create(fills)
    return ids


def timed(function, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    database_fresh()
    ids = seed()
    from apps.trading.models import PortfolioSnapshot
    from apps.trading.performance import performance_report

    def snapshots_only():
        list(PortfolioSnapshot.objects.filter(account_id=ids[0]).order_by("taken_at").values_list("taken_at", "equity"))

    rows = {
        "bare snapshot read, 1 account (floor)": timed(snapshots_only, repeat),
        "performance, 1 account": timed(lambda: performance_report(account_ids=ids[:1]), repeat),
        "performance, 1 account, last 30 days": timed(
            lambda: performance_report(account_ids=ids[:1], start=datetime(2025, 12, 1, tzinfo=UTC)), repeat
        ),
        f"performance, all {ACCOUNTS} accounts": timed(lambda: performance_report(account_ids=ids), repeat),
    }
    print(f"{HOURS} hourly snapshots and {TRIPS} round trips per account; {repeat} runs each (PostgreSQL)")
    print(f"{'':42} {'p50 ms':>9} {'p95 ms':>9}")
    for name, figures in rows.items():
        print(f"{name:42} {figures['p50_ms']:9.1f} {figures['p95_ms']:9.1f}")


if __name__ == "__main__":
    main()
