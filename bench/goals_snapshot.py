"""Goal snapshots on PostgreSQL: every active goal measured and written, then the sizing stances
(factor, risk stance, drawdown check) refreshed, for 100 goals over 10 accounts (the issue's
goal: <= 2 s). Printed beside it: the same snapshot again (idempotent: rewrites the day's rows)
and the stance refresh alone, with the queries each sends.

    .venv/bin/python bench/goals_snapshot.py [--accounts 10] [--goals-per-account 10]
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("BENCH_GOALS_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_goals")
DB_NAME = PG_URL.rsplit("/", 1)[1]


def database_reset() -> None:
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {"DATABASE_URL": PG_URL, "TRADEDESK_TESTING": "1", "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "tradedesk.settings"}
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def desk_build(accounts: int, goals_per_account: int) -> None:
    """Accounts with a month of daily portfolio snapshots, an open position each, and goals of
    every kind (a third each), all active."""
    from datetime import timedelta
    from decimal import Decimal as D

    from django.core.management import call_command
    from django.utils import timezone

    from apps.engine.goals import month_start
    from apps.goals.models import Goal
    from apps.trading.models import PortfolioSnapshot, Position
    from tests.trading.factories import account_make, fresh_market

    call_command("migrate", verbosity=0)
    market = fresh_market(symbol="BENCH/USDT", price=D("100"))
    start, now = month_start(timezone.now()), timezone.now()
    kinds = (("monthly_return", D("0.10")), ("monthly_income", D("4000")), ("portfolio_value", D("1000000")))
    for index in range(accounts):
        account = account_make(name=f"goals-{index}", cash=D("100000"))
        Position.objects.create(account=account, market=market, amount=D("10"), average_entry=D("90"))
        days = max((now - start).days, 0) + 1
        PortfolioSnapshot.objects.bulk_create(
            PortfolioSnapshot(
                account=account, taken_at=min(start + timedelta(days=day), now), equity=D(100000 + 100 * day),
                cash=D(100000), positions_value=D(1000), realized_pnl=D(50 * day), unrealized_pnl=0,
            )
            for day in range(days)
        )  # fmt: skip
        for number in range(goals_per_account):
            kind, target = kinds[number % 3]
            Goal.objects.create(account=account, kind=kind, target=target * (1 + number), active=True)


def timed(run) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
    return seconds, len(captured.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--goals-per-account", type=int, default=10)
    args = parser.parse_args()
    database_reset()
    django_setup()
    desk_build(args.accounts, args.goals_per_account)
    from apps.goals.services import goals_snapshot, sizing_stances_refresh

    goals = args.accounts * args.goals_per_account
    print(f"Goal snapshots, PostgreSQL, {goals} goals over {args.accounts} accounts, {os.cpu_count()} CPUs (goal: <= 2 s)")
    for label, run in (
        ("snapshot (first of the day)", goals_snapshot),
        ("snapshot again (idempotent)", goals_snapshot),
        ("sizing stances alone", sizing_stances_refresh),
    ):
        seconds, queries = timed(run)
        print(f"  {label:30} {seconds:6.2f} s  {queries:6} queries  {seconds / goals * 1000:6.1f} ms a goal")


if __name__ == "__main__":
    main()
