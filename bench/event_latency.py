"""Latency from the commit of a candle + its outbox event to a websocket client receiving it.

Each runtime in a child process on a fresh SQLite file (or $BENCH_DATABASE_URL, emptied first):
  memory       in-memory channel layer, relay task inside the uvicorn web process (RELAY_IN_PROCESS)
  redis-poll   channels_redis, `manage.py relay --no-listen`: the relay polls every 200 ms (before)
  redis        channels_redis, `manage.py relay`: on PostgreSQL woken by the commit's NOTIFY (after)
The redis rows are skipped without Redis; the two compare only on PostgreSQL (SQLite has no
NOTIFY, so both poll there). The writer and the websocket client live in the same process, so
both clocks are one clock.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradedesk_bench python bench/event_latency.py [--events 60]
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RECEIVE_TIMEOUT_S = 10


# --- Parent: run each runtime in its own process, print the table -----------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60, help="events per runtime (default 60)")
    parser.add_argument("--child", choices=list(LABELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.events)
        return
    rows = [runtime_run("memory", args.events)]
    for runtime in ("redis-poll", "redis"):
        rows.append(runtime_run(runtime, args.events) if redis_reachable() else {"runtime": runtime, "skipped": "no Redis"})
    table_print(rows, args.events)


LABELS = {
    "memory": "in-memory layer, relay in web",
    "redis-poll": "channels_redis, relay polling (before)",
    "redis": "channels_redis, relay LISTEN (after)",
}


def redis_reachable() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


def runtime_run(runtime: str, events: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="tradedesk-bench-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3"),
            "TRADEDESK_TESTING": "1",  # development secrets are fine for a throwaway database
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
        }
        env.pop("REDIS_URL", None)
        if runtime.startswith("redis"):
            env.update(REDIS_URL=REDIS_URL, RELAY_IN_PROCESS="0", CHANNELS_PREFIX=f"bench{os.getpid()}")
        else:
            env["RELAY_IN_PROCESS"] = "1"
        command = [sys.executable, __file__, "--child", runtime, "--events", str(events)]
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return {"runtime": runtime, "skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
        return json.loads(done.stdout.strip().splitlines()[-1])


def table_print(rows: list[dict], events: int) -> None:
    database = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres") else "SQLite (no NOTIFY)"
    print(f"commit -> websocket latency, {events} events per runtime, {database}, relay poll 200 ms")
    print(f"{'runtime':<40} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'lost':>5}")
    for row in rows:
        label = LABELS[row["runtime"]]
        if "skipped" in row:
            print(f"{label:<40} skipped: {row['skipped']}")
            continue
        print(f"{label:<40} {row['n']:>4} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['max']:>8.1f} {row['lost']:>5}")


# --- Child: one runtime ------------------------------------------------------------------


def child_main(runtime: str, events: int) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    outbox_empty()
    market, cookie = fixtures_create()
    server = server_start()
    relay = relay_process_start(listen=runtime == "redis") if runtime.startswith("redis") else None
    try:
        latencies, lost = asyncio.run(measure(server.config.port, cookie, market, events))
    finally:
        server.should_exit = True
        if relay is not None:
            relay.terminate()
            relay.wait(timeout=10)
    ms = sorted(value * 1000 for value in latencies)
    quantiles = statistics.quantiles(ms, n=20) if len(ms) > 1 else ms * 19
    print(
        json.dumps(
            {"runtime": runtime, "n": len(ms), "p50": statistics.median(ms), "p95": quantiles[18], "max": ms[-1], "lost": lost}
        )
    )


def fixtures_create():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from apps.markets.models import Exchange, Market

    exchange, _ = Exchange.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    market, _ = Market.objects.get_or_create(exchange=exchange, symbol="BTC/USDT", defaults={"base": "BTC", "quote": "USDT"})
    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)
    return market, f"sessionid={client.cookies['sessionid'].value}"


def server_start():
    import uvicorn

    from tradedesk.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server


def relay_process_start(*, listen: bool) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "manage.py"), "relay", *([] if listen else ["--no-listen"])]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)


def outbox_empty() -> None:
    """A reused bench database starts like a fresh one: no candles, no events, no relay cursor."""
    from apps.common.models import Event, EventCursor
    from apps.markets.models import Candle

    Candle.objects.filter(market__exchange__code="bench").delete()
    Event.objects.all().delete()
    EventCursor.objects.all().delete()


def candle_commit(market, index: int) -> tuple[int, float]:
    """The collector's write: candle + event in one transaction; returns (event id, commit time)."""
    from datetime import datetime, timedelta
    from decimal import Decimal

    from django.db import transaction

    from apps.common.events import event_record
    from apps.markets.models import Candle

    open_time = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=index)
    price = Decimal("43000") + index
    with transaction.atomic():
        Candle.objects.create(
            market=market,
            timeframe="1m",
            open_time=open_time,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=Decimal("1"),
        )
        event = event_record(
            "candle.closed",
            {
                "market": market.symbol,
                "timeframe": "1m",
                "time": int(open_time.timestamp()),
                "open": str(price),
                "high": str(price),
                "low": str(price),
                "close": str(price),
                "volume": "1",
            },
            market=market.slug,
            tf="1m",
        )
    return event.id, time.perf_counter()


async def measure(port: int, cookie: str, market, events: int) -> tuple[list[float], int]:
    from websockets.asyncio.client import connect

    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
    latencies, lost, pace = [], 0, random.Random(1)
    async with connect(f"ws://127.0.0.1:{port}/ws/events/", additional_headers=headers) as ws:
        await ws.send(json.dumps({"subscribe": [f"candles.{market.slug}.1m"], "since": None}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        await relay_ready(ws, market)
        for index in range(events):
            await asyncio.sleep(pace.uniform(0.05, 0.35))  # land at every phase of the relay's poll
            event_id, committed_at = await asyncio.to_thread(candle_commit, market, index)
            try:
                received_at = await asyncio.wait_for(receive_id(ws, event_id), RECEIVE_TIMEOUT_S)
                latencies.append(received_at - committed_at)
            except TimeoutError:
                lost += 1
    return latencies, lost


async def relay_ready(ws, market, attempts: int = 30) -> None:
    """Warm up until the relay delivers (a relay starting up skips what was written before it)."""
    for attempt in range(attempts):
        event_id, _ = await asyncio.to_thread(candle_commit, market, 100_000 + attempt)
        try:
            await asyncio.wait_for(receive_id(ws, event_id), 1.0)
            return
        except TimeoutError:
            continue
    raise RuntimeError("the relay delivered nothing within 30 s")


async def receive_id(ws, event_id: int) -> float:
    while True:
        message = json.loads(await ws.recv())
        if message.get("id") == event_id:
            return time.perf_counter()


if __name__ == "__main__":
    main()
