"""`manage.py generate_strategies --count 500` over 90 days of one-minute candles (129,600), on
2 research worker processes (celery -Q research, solo pool: one per core) sharing a PostgreSQL
database of the bench's own and the Redis broker of REDIS_URL, as the desk runs it. Each
candidate is bias-checked (look-ahead on every cut, recursive on 24 later starts) and backtested
on the in-sample window and each of 3 out-of-sample folds; the survivors are stored as stopped
strategies. Goal: <= 10 minutes.

    REDIS_URL=redis://127.0.0.1:6379/2 python bench/generate_speed.py [--count 500] [--days 90] [--workers 2]

A smaller --count gives the time per candidate, and the count's figure extrapolated from it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
DATABASE = "bench_generate"
GOAL_SECONDS = 600
GOAL_COUNT = 500


def database_reset() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN + "/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def environment() -> dict:
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL (the broker the workers and this command share), e.g. redis://127.0.0.1:6379/2")
    return {
        **os.environ,
        "DATABASE_URL": f"{PG_ADMIN}/{DATABASE}",
        "TRADEDESK_TESTING": "1",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "console",
        "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
    }


def desk_seed(days: int):
    """90 days of the synthetic market's 1m candles, its collector and a paper account (the
    tests' own seeding)."""
    from django.core.management import call_command

    from apps.markets.models import Candle
    from tests.research.generation_support import minute_market_seeded

    call_command("migrate", verbosity=0)
    account = minute_market_seeded(days=days)
    return account, Candle.objects.filter(timeframe="1m").count()


def workers_start(count: int, env: dict) -> list[subprocess.Popen]:
    command = [sys.executable, "-m", "celery", "-A", "tradedesk", "worker", "--pool", "solo", "-Q", "research"]
    return [
        subprocess.Popen(
            [*command, "--loglevel", "WARNING", "-n", f"bench-generate-{i}@%h"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


def workers_stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def cpu_seconds(worker: subprocess.Popen) -> float:
    """User + system CPU time of a worker process so far (Linux /proc)."""
    fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=GOAL_COUNT)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env = environment()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    database_reset()
    import django

    django.setup()
    from django.core.management import call_command

    from apps.research.models import GeneratedCandidate, StrategySearch
    from tradedesk.celery import app

    started = time.perf_counter()
    account, candles = desk_seed(args.days)
    print(f"seeded {candles:,} one-minute candles ({args.days} days) in {time.perf_counter() - started:.1f} s")
    app.control.purge()
    workers = workers_start(args.workers, env)
    try:
        time.sleep(5)  # the workers' start (imports, broker connection) is not the search's time
        out = StringIO()
        cpu_before = [cpu_seconds(worker) for worker in workers]
        started = time.perf_counter()
        call_command(
            "generate_strategies",
            *("--count", str(args.count), "--account", str(account.pk), "--symbol", "BTC/USDT"),
            *("--seed", str(args.seed), "--no-progress"),
            stdout=out,
        )
        elapsed = time.perf_counter() - started
        cpu = [cpu_seconds(worker) - before for worker, before in zip(workers, cpu_before, strict=True)]
        load = os.getloadavg()[0]
    finally:
        workers_stop(workers)
    search = StrategySearch.objects.get()
    candidates = GeneratedCandidate.objects.filter(search=search)
    print(out.getvalue().rstrip())
    per_candidate = elapsed / args.count
    print(
        f"\ngenerate_strategies --count {args.count} over {args.days} days of 1m candles on {args.workers} workers: "
        f"{elapsed:.1f} s ({per_candidate * 1000:.0f} ms per candidate; "
        f"{candidates.filter(bias_passed=True).count()}/{candidates.count()} passed the bias checks, "
        f"{candidates.filter(strategy__isnull=False).count()} stored as strategies)"
    )
    print(
        f"CPU of the worker processes: {' + '.join(f'{c:.0f}' for c in cpu)} s (PostgreSQL's and Redis's not counted); "
        f"load average {load:.1f} on {os.cpu_count()} cores at the end (other work on the machine stretches the wall time)"
    )
    scale = 1 if args.count == GOAL_COUNT else GOAL_COUNT / args.count
    label = "measured" if args.count == GOAL_COUNT else f"extrapolated from {args.count}"
    verdict = "OK" if elapsed * scale <= GOAL_SECONDS else "OVER"
    print(f"--count {GOAL_COUNT}: {elapsed * scale:.0f} s wall time {label}; goal <= {GOAL_SECONDS} s (10 minutes): {verdict}")


if __name__ == "__main__":
    main()
