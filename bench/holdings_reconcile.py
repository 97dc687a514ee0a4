"""Holdings reconciliation: one pass over 10 accounts x 30 markets, desk time against the
exchange's, on PostgreSQL with the real ccxt client against the simulated exchange.

    .venv/bin/python bench/holdings_reconcile.py [--accounts 10] [--markets 30] [--passes 6]

Each account holds a position in each of its markets (27 listed only in the desk's database,
their assets held on the exchange; BTC, ETH and SOL traded on the exchange too), each made of one
fill. Between passes one account's BTC is sold "by hand" (a finding: the last trade price is
fetched and a synthetic fill applied). Desk time = the pass's wall time minus the time spent in
exchange calls (the balances of each account, the price of a finding), which is printed apart.
Goal: <= 1 s of desk time per pass.
"""

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal as D
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("BENCH_HOLDINGS_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_holdings_reconcile")
DB_NAME = PG_URL.rsplit("/", 1)[1]
ENV = {
    "DATABASE_URL": PG_URL,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
    "TRADEDESK_TESTING": "1",
    "DEBUG": "1",
    "LOG_LEVEL": "ERROR",
    "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
}
LISTED = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def setup() -> None:
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    sys.path.insert(0, str(ROOT))
    os.environ.update(ENV)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def desk_build(sim, accounts: int, markets: int) -> list[int]:
    from django.utils import timezone

    from apps.exchanges.models import ExchangeAccount
    from apps.markets.models import Exchange, Market
    from apps.trading.models import Fill, Order, Position

    exchange = Exchange.objects.create(code="sim", name="Simulated", ccxt_id="binance", api_url=sim.url)
    symbols = [*LISTED, *(f"X{i:02d}/USDT" for i in range(markets - len(LISTED)))]
    rows = {
        symbol: Market.objects.create(
            exchange=exchange,
            symbol=symbol,
            base=symbol.split("/")[0],
            quote="USDT",
            price_precision=D("0.01"),
            amount_precision=D("0.0001"),
            min_notional=D("5"),
        )
        for symbol in symbols
    }
    ids = []
    for n in range(accounts):
        key = f"bench-{n}"
        held = {symbol.split("/")[0]: D("0.5") + D(n) / 100 for symbol in symbols}
        sim.account_create(api_key=key, secret=key, balances={"USDT": D("100000"), **held})
        account = ExchangeAccount.objects.create(
            name=key, exchange=exchange, mode=ExchangeAccount.Mode.SIM, api_key=key, api_secret=key
        )
        for market in rows.values():
            amount = held[market.base]
            order = Order.objects.create(
                account=account,
                market=market,
                client_order_id=f"b{n}-{market.base}",
                venue_order_id=f"v{n}-{market.base}",
                side="buy",
                price=D("100"),
                amount=amount,
                filled=amount,
                status="filled",
            )
            Fill.objects.create(order=order, venue_trade_id="1", price=D("100"), amount=amount, traded_at=timezone.now())
            Position.objects.create(account=account, market=market, amount=amount, average_entry=D("100"))
        ids.append(account.pk)
    return ids


def one_pass(account_ids: list[int]) -> tuple[float, float, float, int]:
    from apps.trading.services.holdings import holdings_reconcile

    started = time.perf_counter()
    reports = [holdings_reconcile(account_id=account_id) for account_id in account_ids]
    wall = time.perf_counter() - started
    exchange = sum(report.exchange_seconds for report in reports)
    failed = [report.failed for report in reports if report.failed]
    assert not failed, failed
    return wall, wall - exchange, exchange, sum(report.corrections for report in reports)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--markets", type=int, default=30)
    parser.add_argument("--passes", type=int, default=6)
    args = parser.parse_args()
    setup()
    from tests.simulated_exchange import simexchange_running

    with simexchange_running(seed=7, history_days=0.05, accounts=()) as sim:
        account_ids = desk_build(sim, args.accounts, args.markets)
        print(
            f"Holdings reconciliation: {args.accounts} accounts x {args.markets} markets "
            f"(PostgreSQL, ccxt -> simexchange), {os.cpu_count()} CPUs"
        )
        print("  pass   wall ms   desk ms   exchange ms   corrections")
        desk_times = []
        for n in range(args.passes):
            if n:  # one account's BTC sold by hand since the last pass
                key = f"bench-{n % args.accounts}"
                sim.balance_set(key, "BTC", sim.state.accounts[key].free["BTC"] - D("0.1"))
            wall, desk, exchange, corrections = one_pass(account_ids)
            label = "first (baselines set)" if n == 0 else ""
            print(f"  {n + 1:4d}  {wall * 1000:8.1f}  {desk * 1000:8.1f}  {exchange * 1000:12.1f}  {corrections:12d}  {label}")
            if n:
                desk_times.append(desk)
        print(
            f"  desk time per pass (after the first): median {statistics.median(desk_times) * 1000:.1f} ms, "
            f"max {max(desk_times) * 1000:.1f} ms   goal: <= 1000 ms"
        )


if __name__ == "__main__":
    main()
