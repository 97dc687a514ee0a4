"""The alert pipeline's speed, on PostgreSQL + Redis with real processes and a local receiver.

    .venv/bin/python bench/alerts.py [--latency-events 40] [--flood-seconds 60] [--no-trading]

1. Latency: event commit -> the message at a local webhook receiver (goal: p95 <= 2 s), for the
   two ways the dispatcher runs: beat (database scheduler, every 2 s) + a Celery worker on the
   `alerts` queue, as the desk deploys it; and the dedicated loop `manage.py alerts_dispatch`.
   Each event is a critical alert (order.unknown), so none is throttled; the receiver and the
   writer share this process's clock.
2. Throughput: 10,000 order.rejected events per minute for --flood-seconds, written in batches
   every 0.5 s while the dispatcher runs; the backlog (events not yet read) is sampled every 5 s
   and must not grow.
3. Trading latency with and without the dispatcher: bench/pipeline_latency.py run three times on
   its own database: alone; with `alerts_dispatch` reading the desk's events; and with the
   dispatcher plus a flood of 10,000 alert events a minute written against the same database
   (that writer is load a real flood brings too). The figures printed side by side.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = os.environ.get("BENCH_ALERTS_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "bench_alerts"
TRADING_DB = "bench_alerts_trading"
REDIS_URL = os.environ.get("BENCH_ALERTS_REDIS_URL", "redis://127.0.0.1:6379/5")
FLOOD_PER_MINUTE = 10_000


def env_for(db: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG_BASE}/{db}",
        "REDIS_URL": REDIS_URL,
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
        "ALERTS_BACKLOG_MINUTES": "0",
    }


def database_reset(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def django_setup(db: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(env_for(db))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def spawn(command: list[str], db: str, log: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *command], cwd=ROOT, env=env_for(db), stdout=open(ROOT / "var" / log, "w"), stderr=subprocess.STDOUT
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- writing events ---------------------------------------------------------------------


def load_account():
    from apps.exchanges.models import ExchangeAccount
    from apps.markets.models import Exchange

    exchange, _ = Exchange.objects.get_or_create(code="bench-alerts", defaults={"name": "bench", "api_url": "http://127.0.0.1:1"})
    account, _ = ExchangeAccount.objects.get_or_create(name="bench-alerts", defaults={"exchange": exchange})
    return account


def order_events_write(kind: str, account, numbers: range) -> None:
    from django.db import transaction

    from apps.common.events import ORDER_FIELDS, event_build, events_save

    payload = {**dict.fromkeys(ORDER_FIELDS, ""), "market": "BTC/USDT", "side": "buy", "amount": "0.1", "reason": "bench"}
    events = [
        event_build(kind, {**payload, "order": number, "client_order_id": f"bench-{number}", "status": "x"}, account=account.pk)
        for number in numbers
    ]
    with transaction.atomic():
        events_save(events)


def backlog() -> int:
    from django.db.models import Max

    from apps.common.models import Event, EventCursor

    cursor = EventCursor.objects.filter(name="alerts").first()
    last = Event.objects.aggregate(last=Max("id"))["last"] or 0
    return last - (cursor.last_event_id if cursor else 0)


# --- 1. latency -------------------------------------------------------------------------


def dispatcher_start(mode: str, db: str) -> list[subprocess.Popen]:
    if mode == "loop":
        return [spawn(["manage.py", "alerts_dispatch"], db, "bench-alerts-dispatch.log")]
    from apps.desk.beat import beat_schedule_install
    from tradedesk.celery import DEFAULT_BEAT_SCHEDULE, app

    app.control.purge()
    name = "alerts: events to alerts, deliveries and retries"
    beat_schedule_install({name: DEFAULT_BEAT_SCHEDULE[name]})
    folder = tempfile.mkdtemp(prefix="bench-alerts-beat-")
    worker = ["-m", "celery", "-A", "tradedesk", "worker", "-Q", "alerts", "-P", "threads", "-c", "2", "-n", "bench-alerts@%h"]
    beat = ["-m", "celery", "-A", "tradedesk", "beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler"]
    return [
        spawn([*worker, "--without-gossip", "--without-mingle", "-l", "WARNING"], db, "bench-alerts-worker.log"),
        spawn([*beat, "--pidfile", f"{folder}/beat.pid", "-l", "WARNING"], db, "bench-alerts-beat.log"),
    ]


def latency_run(mode: str, events: int, receivers, first_order: int) -> list[float]:
    from apps.alerts.models import Channel
    from apps.common.models import EventCursor
    from tests.alerts.receivers import WEBHOOK_PATH

    Channel.objects.get_or_create(name="bench hook", kind="webhook", defaults={"url": receivers.http_url + WEBHOOK_PATH})
    account = load_account()
    processes = dispatcher_start(mode, DB_NAME)
    latencies = []
    try:
        wait(lambda: EventCursor.objects.filter(name="alerts").exists(), 60)
        order_events_write("order.unknown", account, range(first_order - 1, first_order))  # the dispatcher is up
        wait(lambda: _arrival(receivers, f"order.unknown:{first_order - 1}"), 60)
        for number in range(first_order, first_order + events):
            committed = time.monotonic()
            order_events_write("order.unknown", account, range(number, number + 1))
            key = f"order.unknown:{number}"
            arrived = wait(lambda key=key: _arrival(receivers, key), 30)
            if arrived is not None:
                latencies.append(arrived - committed)
            time.sleep(0.37)  # not in step with the 2 s beat
    finally:
        for process in processes:
            stop(process)
    return latencies


def _arrival(receivers, key: str) -> float | None:
    with receivers.lock:
        return next((r.at for r in receivers.requests if r.headers.get("Idempotency-Key") == key and r.answered == 200), None)


def wait(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    return None


# --- 2. throughput ----------------------------------------------------------------------


class Flood:
    """FLOOD_PER_MINUTE order.rejected events per minute, in batches every 0.5 s, until stopped."""

    def __init__(self, account, first_order: int):
        self.account, self.next_order = account, first_order
        self.stop, self.written = threading.Event(), 0
        self.thread = threading.Thread(target=self._run, name="bench-flood", daemon=True)

    def _run(self) -> None:
        from django.db import connection

        per_batch = FLOOD_PER_MINUTE // 120
        tick = time.monotonic()
        try:
            while not self.stop.is_set():
                order_events_write("order.rejected", self.account, range(self.next_order, self.next_order + per_batch))
                self.next_order += per_batch
                self.written += per_batch
                tick += 0.5
                self.stop.wait(max(0.0, tick - time.monotonic()))
        finally:
            connection.close()


def throughput_run(seconds: int, first_order: int) -> tuple[list[tuple[int, int, int]], int]:
    processes = dispatcher_start("loop", DB_NAME)
    flood = Flood(load_account(), first_order)
    samples = []
    try:
        time.sleep(3)
        started = time.monotonic()
        flood.thread.start()
        while time.monotonic() - started < seconds:
            time.sleep(5)
            samples.append((round(time.monotonic() - started), flood.written, backlog()))
        flood.stop.set()
        flood.thread.join()
        drained = wait(lambda: backlog() == 0, 60)
        samples.append((round(time.monotonic() - started), flood.written, backlog()))
    finally:
        flood.stop.set()
        for process in processes:
            stop(process)
    return samples, 0 if drained else backlog()


# --- 3. trading latency with and without the dispatcher ------------------------------------


def trading_latency(alerts: str) -> str:
    """`alerts`: "off", "dispatcher" (it reads the desk's own events) or "flood" (and 10,000
    alert events a minute written beside the trading)."""
    database_reset(TRADING_DB)  # the helpers below must not find the previous run's desk
    env = {
        **os.environ,
        "BENCH_TRADING_LATENCY_POSTGRES_URL": f"{PG_BASE}/{TRADING_DB}",
        "BENCH_REDIS_URL": REDIS_URL,
    }
    bench = subprocess.Popen(
        [sys.executable, "bench/pipeline_latency.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    helpers = [] if alerts == "off" else _alerts_beside_trading(flood=alerts == "flood")
    out, _ = bench.communicate(timeout=900)
    for helper in helpers:
        stop(helper)
    return out


def _alerts_beside_trading(*, flood: bool) -> list[subprocess.Popen]:
    """Once pipeline_latency has built its desk (its strategy row exists), run the dispatcher
    and a flood of alert events (bench/alerts.py --flood-only) against its database."""
    import psycopg

    def desk_built() -> bool:
        try:
            with psycopg.connect(f"{PG_BASE}/{TRADING_DB}") as conn:
                return conn.execute("SELECT 1 FROM strategies_strategy WHERE name = 'latency'").fetchone() is not None
        except psycopg.Error:
            return False

    wait(desk_built, 300)
    helpers = [spawn(["manage.py", "alerts_dispatch"], TRADING_DB, "bench-alerts-beside-dispatch.log")]
    if flood:
        helpers.append(spawn(["bench/alerts.py", "--flood-only", TRADING_DB], TRADING_DB, "bench-alerts-beside-flood.log"))
    return helpers


def flood_only(db: str) -> None:
    """A child: the flood against another benchmark's database, until SIGTERM."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(env_for(db))
    import django

    django.setup()
    from apps.alerts.models import Channel
    from tests.alerts.receivers import WEBHOOK_PATH, receivers_running

    with receivers_running() as receivers:
        Channel.objects.get_or_create(name="bench hook", kind="webhook", defaults={"url": receivers.http_url + WEBHOOK_PATH})
        flood = Flood(load_account(), 1)
        signal.signal(signal.SIGTERM, lambda *_: flood.stop.set())
        flood.thread.start()
        flood.thread.join()


def _figures(out: str) -> str:
    return "\n".join("    " + line for line in out.splitlines() if line.strip().startswith(("p50", "orders", "Candle")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-events", type=int, default=40)
    parser.add_argument("--flood-seconds", type=int, default=60)
    parser.add_argument("--no-trading", action="store_true", help="skip the trading latency comparison")
    parser.add_argument("--trading-only", action="store_true", help="only the trading latency comparison (3.)")
    parser.add_argument("--flood-only", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood_only:
        flood_only(args.flood_only)
        return
    if args.trading_only:
        trading_compare()
        return
    (ROOT / "var").mkdir(exist_ok=True)
    database_reset(DB_NAME)
    django_setup(DB_NAME)
    from tests.alerts.receivers import receivers_running

    print(f"Alert pipeline, PostgreSQL + Redis, a local webhook receiver, {os.cpu_count()} CPUs")
    with receivers_running() as receivers:
        rows = []
        for number, (mode, label) in enumerate((("celery", "beat every 2 s + Celery worker"), ("loop", "alerts_dispatch loop"))):
            latencies = sorted(latency_run(mode, args.latency_events, receivers, first_order=10 + number * 100_000))
            rows.append((label, latencies))
        print("1. Event commit -> message at the receiver (goal: p95 <= 2 s)")
        for label, values in rows:
            if not values:
                print(f"  {label:<32} no message arrived")
                continue
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            print(
                f"  {label:<32} n={len(values):3}  p50 {statistics.median(values) * 1000:7.0f} ms  "
                f"p95 {p95 * 1000:7.0f} ms  max {values[-1] * 1000:7.0f} ms"
            )
        samples, left = throughput_run(args.flood_seconds, first_order=1_000_000)
    print(f"2. {FLOOD_PER_MINUTE:,} order.rejected events per minute for {args.flood_seconds} s (alerts_dispatch loop)")
    print("  seconds  events written  backlog (events not yet read)")
    for seconds, written, behind in samples:
        print(f"  {seconds:7}  {written:14,}  {behind:8,}")
    backlogs = [behind for _, _, behind in samples[:-1]]
    growing = len(backlogs) >= 4 and min(backlogs[len(backlogs) // 2 :]) > max(backlogs[: len(backlogs) // 2])
    print(f"  backlog {'GROWS' if growing else 'does not grow'}; after the flood: {left} events left")
    if args.no_trading:
        return
    trading_compare()


def trading_compare() -> None:
    variants = (
        ("off", "without the alerts dispatcher"),
        ("dispatcher", "with the alerts dispatcher (the desk's own events)"),
        ("flood", "with the dispatcher and 10,000 alert events a minute written beside"),
    )
    print("3. Trading latency (bench/pipeline_latency.py, its own database) side by side")
    for alerts, label in variants:
        print(f"  {label}:")
        print(_figures(trading_latency(alerts)))


if __name__ == "__main__":
    main()
