"""Latency from a candle's commit to the order acknowledged by the simulated exchange, with a
real Celery worker process (`celery -A tradedesk worker`), Redis and PostgreSQL, and the real
ccxt client.

    .venv/bin/python bench/pipeline_latency.py [--candles 40] [--gap 0.5] [--pool threads|prefork] [--concurrency 4]

Path measured: candles_store commits the candle -> strategies_on_candles_closed queues
strategy_evaluate (Redis) -> worker loads the window, runs the engine, stores the Signal, risk
checks under the account lock, NEW order (same task) -> on commit order_submit (Redis) -> claim
-> ccxt create_order -> simexchange books it -> the ack is recorded (the OrderEvent out of
SUBMITTING). Goal: p95 <= 250 ms, p50 <= 100 ms.

The breakdown says when each task was picked up (a task_prerun hook the worker imports with -I
writes the time to Redis) and when each row was written, in ms after the commit.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "bench_trading_latency"
PG_URL = os.environ.get("BENCH_TRADING_LATENCY_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
DB_NAME = PG_URL.rsplit("/", 1)[1]  # the database reset is the one named in the URL
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
ENV = {
    "DATABASE_URL": PG_URL,
    "REDIS_URL": REDIS_URL,
    "TRADEDESK_TESTING": "1",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
}


def database_reset() -> None:
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(ENV)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def worker_start(pool: str, concurrency: int) -> subprocess.Popen:
    """The worker imports bench.latency_strategy (-I) so it knows the benchmark's strategy."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tradedesk",
            "worker",
            "-I",
            "bench.pipeline_latency",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "-Q",
            "default,strategies,orders",
            "--loglevel",
            "INFO",
            "-n",
            "latency@%h",
        ],
        cwd=ROOT,
        env={**os.environ, **ENV},
        stdout=open(ROOT / "var" / "bench-latency-worker.log", "w"),
        stderr=subprocess.STDOUT,
    )


def strategy_register() -> None:
    """Buys on even minutes, sells on odd ones: every candle makes an order."""
    import numpy as np

    from apps.engine.strategies import registry
    from apps.engine.strategies.base import SignalArrays, Strategy

    class Alternates(Strategy):
        name = "bench_alternates"

        @property
        def warmup_period(self):
            return 3

        def signals(self, candles):
            even = (candles.time // 60_000) % 2 == 0
            no = np.zeros(len(candles), dtype=bool)
            return SignalArrays(even, ~even, no, no)

    registry._registry = {**registry.strategy_classes(), "bench_alternates": Alternates}


def pickup_recorder_install() -> None:
    """In the worker: note when each task starts (Redis), to split a hop from the work."""
    import redis
    from celery.signals import task_prerun

    client = redis.Redis.from_url(REDIS_URL)

    @task_prerun.connect(weak=False)
    def noted(task=None, args=None, **_):
        if task.name.endswith(("strategy_evaluate", "order_submit")) and args:
            client.set(
                f"bench:pickup:{task.name.rsplit('.', 1)[1]}:{args[-1] if 'evaluate' in task.name else args[0]}",
                repr(time.time()),
                ex=600,
            )


def pickups(open_time, order_id) -> dict[str, float]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    found = {
        "evaluate picked up": client.get(f"bench:pickup:strategy_evaluate:{open_time.isoformat()}"),
        "submit picked up": client.get(f"bench:pickup:order_submit:{order_id}") if order_id else None,
    }
    return {name: float(value) for name, value in found.items() if value}


if __name__ != "__main__":
    strategy_register()  # imported by the worker through -I
    pickup_recorder_install()


def desk_build(sim):
    from django.utils import timezone

    from apps.markets.models import Candle, CollectorStatus
    from apps.strategies.models import Strategy
    from tests.trading.sim import sim_desk

    account, market = sim_desk(sim, price=D("60000"))
    strategy = Strategy.objects.create(
        name="latency",
        kind="bench_alternates",
        account=account,
        timeframe="1m",
        allocation_value=D("100"),
        status=Strategy.Status.RUNNING,
    )
    strategy.markets.add(market)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    start -= timedelta(minutes=(int(start.timestamp()) // 60) % 2)
    Candle.objects.filter(market=market).delete()
    for i in range(5, 0, -1):
        Candle.objects.create(
            market=market,
            timeframe="1m",
            open_time=start - timedelta(minutes=i),
            open=D(60000),
            high=D(60000),
            low=D(60000),
            close=D(60000),
            volume=D(1),
        )
    # The collector's newest candle is the last warm-up one: each measured candle is then the newest
    # (an entry on a candle older than the newest is refused as stale).
    CollectorStatus.objects.filter(market=market, timeframe="1m").update(last_candle_time=start - timedelta(minutes=1))
    return market, start


def one_candle(sim, market, open_time) -> float:
    from apps.markets.models import CollectorStatus
    from apps.markets.services import CandleRow, candles_store
    from apps.trading.tasks import strategies_on_candles_closed

    price = D("60000")
    sim.price_pin(market.symbol, price)
    collector, _ = CollectorStatus.objects.get_or_create(market=market, timeframe="1m")
    inserted = candles_store(collector=collector, rows=[CandleRow(open_time, price, price, price, price, D(1))])
    committed = time.time()
    strategies_on_candles_closed(market_id=market.pk, timeframe="1m", open_times=inserted)
    return committed


def stages(open_time, committed: float) -> dict[str, float]:
    """Where the time went (ms after the commit), from the rows' own timestamps."""
    from apps.strategies.models import StrategyEvaluation
    from apps.trading.models import Order, OrderEvent

    evaluation = StrategyEvaluation.objects.filter(candle_time=open_time).first()
    order = Order.objects.filter(signal__candle_time=open_time).first()
    claimed = OrderEvent.objects.filter(order=order, to_status="submitting").first()
    marks = {
        "evaluated": evaluation and evaluation.created_at,
        "order NEW": order and order.created_at,
        "claimed": claimed and claimed.created_at,
    }
    found = {name: (moment.timestamp() - committed) * 1000 for name, moment in marks.items() if moment}
    found.update({name: (moment - committed) * 1000 for name, moment in pickups(open_time, order and order.pk).items()})
    if evaluation:
        found["engine ran (ms)"] = evaluation.duration_ms
    return found


def acked_at(open_time, timeout: float = 10.0) -> float | None:
    from apps.trading.models import OrderEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = OrderEvent.objects.filter(order__signal__candle_time=open_time, from_status="submitting").first()
        if event:
            return event.created_at.timestamp()
        time.sleep(0.005)
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candles", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between candles")
    parser.add_argument(
        "--pool", default="threads", help="worker pool: threads (one process) or prefork (as docker-compose runs it)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--warmup", type=int, default=2, help="first orders not measured (ccxt loads its markets once per process)"
    )
    args = parser.parse_args()
    database_reset()
    django_setup()
    strategy_register()
    from tests.simulated_exchange import simexchange_running
    from tradedesk.celery import app

    app.control.purge()
    worker = worker_start(args.pool, args.concurrency)
    latencies, missing, breakdown = [], 0, []
    try:
        with simexchange_running(seed=7, history_days=0.05) as sim:
            market, start = desk_build(sim)
            time.sleep(6)  # the worker boots
            for i in range(args.candles):
                open_time = start + timedelta(minutes=i)
                committed = one_candle(sim, market, open_time)
                acked = acked_at(open_time)
                if acked is None:
                    missing += 1
                elif i >= args.warmup:  # the first orders load ccxt's markets: a cold start, not the pipeline
                    latencies.append((acked - committed) * 1000)
                    breakdown.append(stages(open_time, committed))
                time.sleep(args.gap)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(
        f"Candle commit -> order acknowledged by simexchange (real worker: {args.pool} pool x {args.concurrency}, Redis, "
        f"PostgreSQL, ccxt), {os.cpu_count()} CPUs"
    )
    print(f"  orders measured: {len(latencies)} (missing: {missing})   goal: p50 <= 100 ms, p95 <= 250 ms")
    print(
        f"  p50 {p(0.50):7.1f} ms   p95 {p(0.95):7.1f} ms   max {latencies[-1]:7.1f} ms   mean {statistics.mean(latencies):7.1f} ms"
    )
    for name in ("evaluate picked up", "evaluated", "order NEW", "submit picked up", "claimed"):
        values = [b[name] for b in breakdown if name in b]
        if values:
            print(f"  median ms after the commit when {name:<18} {statistics.median(values):7.1f}")
    values = [b["engine ran (ms)"] for b in breakdown if "engine ran (ms)" in b]
    if values:
        print(f"  median ms the evaluation took (window load + engine)  {statistics.median(values):7.1f}")


if __name__ == "__main__":
    main()
