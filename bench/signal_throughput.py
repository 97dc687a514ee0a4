"""Signals per second through the risk checks into NEW orders (PostgreSQL), for one account and
across several accounts in parallel processes (the account row lock serialises one account's
order work; different accounts do not wait for each other).

    .venv/bin/python bench/signal_throughput.py [--signals 1000] [--accounts 10] [--batch 100] [--ways both|one|batched]

Each signal (an entry in its own market) goes the full placement path: account row lock, desk
snapshot, every risk rule,
RiskEvent + outbox events, Order + OrderEvent. Submission to a venue is not part of it (the
pipeline_latency benchmark covers that). Goal: >= 1,500 signals/s batched across 10 accounts.

Two ways in, both printed: one by one (signal_execute: one transaction per signal, what one
strategy evaluation with one signal does) and batched (signals_place: `--batch` pending signals
of an account under one lock in one transaction). On a version without signals_place the batched
rows print "n/a", so the same command compares versions.
"""

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "bench_trading"
PG_URL = os.environ.get("BENCH_TRADING_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
DB_NAME = PG_URL.rsplit("/", 1)[1]  # the database reset is the one named in the URL


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
    os.environ.pop("REDIS_URL", None)  # placement only: nothing is queued
    import django

    django.setup()
    from celery import current_app

    from apps.trading import tasks  # noqa: F401 - registers the tasks

    # Measure placement, not the broker: placement queues order_submit by the task's name
    # (apply_async); older versions called .delay, which goes through apply_async too.
    current_app.tasks["apps.trading.tasks.order_submit"].apply_async = lambda *args, **kwargs: None


def desk_build(accounts: int, signals: int, prefix: str = "bench") -> list[tuple[int, list[int]]]:
    from decimal import Decimal as D

    from django.core.management import call_command

    from apps.risk.models import RiskLimits
    from tests.trading.factories import (
        account_make,
        fresh_market,
        signal_make,
        strategy_make,
    )

    if prefix == "one":
        call_command("migrate", verbosity=0)
    from datetime import timedelta

    from django.utils import timezone

    from apps.markets.models import CollectorStatus
    from apps.trading.models import Signal

    # One entry per market: the desk holds one position per market, so a second entry in the
    # same market would be refused (also measured, but it is not the path into a NEW order).
    markets = [fresh_market(symbol=f"{prefix.upper()}{index}/USDT", price=D("100")) for index in range(signals)]
    # Keep the data fresh for the whole run (a long run would otherwise meet the staleness rule).
    newest = timezone.now() + timedelta(days=1)
    CollectorStatus.objects.filter(market__in=markets).update(last_candle_time=newest)
    plan = []
    for index in range(accounts):
        account = account_make(name=f"{prefix}-{index}", cash=D("100000000"))
        strategy = strategy_make(account=account, markets=markets, allocation=D("10"))
        RiskLimits.objects.create(account=account, max_orders_per_minute=10**9)
        RiskLimits.objects.create(strategy=strategy, max_orders_per_minute=10**9)  # also its signal rate cap
        plan.append((account.pk, [signal_make(strategy=strategy, market=market).pk for market in markets]))
    Signal.objects.update(candle_time=newest)  # each signal decides on its market's newest candle
    return plan


def execute(signal_ids: list[int]) -> int:
    from django.db import connection

    from apps.trading.services.placement import signal_execute

    placed = sum(1 for signal_id in signal_ids if signal_execute(signal_id=signal_id) is not None)
    connection.close()
    return placed


def execute_batched(signal_ids: list[int], batch: int) -> int:
    from django.db import connection

    from apps.trading.services.placement import signals_place

    placed = 0
    for start in range(0, len(signal_ids), batch):
        orders = signals_place(signal_ids=signal_ids[start : start + batch])
        placed += sum(1 for order in orders.values() if order is not None)
    connection.close()
    return placed


def batching_available() -> bool:
    try:
        from apps.trading.services.placement import signals_place  # noqa: F401 - imported to warm the module before timing
    except ImportError:
        return False
    return True


def queries_per_signal(signal_ids: list[int], run) -> float:
    """Queries (BEGIN and COMMIT included) the path sends per signal."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run(signal_ids)
    return len(captured.captured_queries) / len(signal_ids)


def worker_booted() -> None:
    """What a desk worker does once it has started, where the version has it (the processes
    below stand for workers): its startup heap frozen out of the garbage collector's sight."""
    import gc

    from tradedesk import celery

    if hasattr(celery, "startup_heap_freeze"):
        gc.collect()  # the desk build's garbage is not the worker's startup heap
        celery.startup_heap_freeze()


def timed(plan, run) -> tuple[int, int, float, float]:
    """(orders placed, signals, seconds) on one account, then the same across the others in parallel."""
    worker_booted()
    single, many = plan[0], plan[1:]
    started = time.perf_counter()
    placed = run(single[1])
    one = time.perf_counter() - started
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(len(many)) as pool:
        placed_many = sum(pool.map(run, [ids for _, ids in many]))
    return placed, placed_many, one, time.perf_counter() - started


def report(label: str, plan, figures) -> None:
    placed, placed_many, one, across = figures
    single, many = plan[0], plan[1:]
    total = sum(len(ids) for _, ids in many)
    print(f"  {label}")
    print(
        f"    one account:      {placed:>6} orders from {len(single[1])} signals in {one:6.2f} s = {len(single[1]) / one:8.1f} signals/s"
        f"  ({one / len(single[1]) * 1000:.1f} ms each)"
    )
    print(
        f"    {len(many)} accounts ({len(many)} processes): {placed_many:>6} orders from {total} signals in {across:6.2f} s = {total / across:8.1f} signals/s"
    )


def goal_sizing_switch_on(plan) -> None:
    """Each account steered by an active goal with catch-up (a stance in force, every entry
    resized, logged as a GoalAdjustment): placement with goal sizing on."""
    from decimal import Decimal as D

    from django.utils import timezone

    from apps.goals.models import Goal
    from apps.goals.services import sizing_stances_refresh
    from apps.trading.models import PortfolioSnapshot

    for account_id, _ in plan:
        Goal.objects.create(account_id=account_id, kind="monthly_return", target=D("0.10"), active=True, catch_up_enabled=True)
        PortfolioSnapshot.objects.create(
            account_id=account_id, taken_at=timezone.now(), equity=D("100000000"), cash=D("100000000"), positions_value=0,
            realized_pnl=0, unrealized_pnl=0,
        )  # fmt: skip
    sizing_stances_refresh()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=1000, help="signals per account")
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100, help="signals per signals_place call (batched rows)")
    parser.add_argument("--ways", choices=("both", "one", "batched"), default="both", help="which way in to time")
    parser.add_argument(
        "--goal-sizing",
        choices=("on", "off", "both"),
        default="off",
        help="goal-aware sizing on the accounts; both: side by side",
    )
    args = parser.parse_args()
    database_reset()
    django_setup()
    from functools import partial

    from django.db import connection

    batched = batching_available()
    plans = [desk_build(args.accounts + 1, args.signals, prefix=prefix) for prefix in ("one", "batch")]
    goal_plan = desk_build(args.accounts + 1, args.signals, prefix="goal") if args.goal_sizing == "both" else None
    if args.goal_sizing == "on":
        [goal_sizing_switch_on(plan) for plan in plans]
    if goal_plan:
        goal_sizing_switch_on(goal_plan)
    probe = plans[0][0][1][:20], plans[1][0][1][:20]
    plans = [
        [(account, ids[20:]) if index == 0 else (account, ids) for index, (account, ids) in enumerate(plan)] for plan in plans
    ]
    per_one = queries_per_signal(probe[0], execute)
    per_batch = queries_per_signal(probe[1], partial(execute_batched, batch=args.batch)) if batched else None
    connection.close()

    print(
        f"Signals through risk into NEW orders, PostgreSQL, {os.cpu_count()} CPUs (goal: >= 1,500/s batched across 10 accounts)"
    )
    if args.ways != "batched":
        report(f"one by one (signal_execute), {per_one:.1f} queries per signal", plans[0], timed(plans[0], execute))
    if args.ways == "one":
        return
    if not batched:
        print(f"  batched (signals_place, {args.batch} per call): n/a on this version")
        return
    without = timed(plans[1], partial(execute_batched, batch=args.batch))
    report(
        f"batched (signals_place, {args.batch} per call), {per_batch:.1f} queries per signal (a batch of 20)", plans[1], without
    )
    if goal_plan:
        with_goals = timed(goal_plan, partial(execute_batched, batch=args.batch))
        report("batched with goal sizing on (catch-up, every entry resized and logged)", goal_plan, with_goals)
        share = (sum(len(ids) for _, ids in goal_plan[1:]) / with_goals[3]) / (
            sum(len(ids) for _, ids in plans[1][1:]) / without[3]
        )
        print(f"  goal sizing on / off across accounts: {share:.0%} (goal: >= 90 %)")


if __name__ == "__main__":
    main()
