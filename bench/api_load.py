"""The API under load: 20 concurrent clients on `GET /api/v1/orders?account=…` (100 a page)
against `GET /health` in the same run, the desk under uvicorn as production runs it on two
cores (`--workers 2`, WEB_CONCURRENCY in docker-compose.yml; `--workers 1` is `make run`), on
PostgreSQL holding 100,000 orders, 1,000 positions and 10 accounts (bench/seed_desk.py).

Prints p50/p95 latency and throughput of both and the ratio, the server's own time per
request (Server-Timing) beside the latency the clients saw (the difference is the wait in
front of the server), and the server processes' CPU per request with the load average: on a
shared machine wall times stretch with others' load, CPU per request does not. Goals: orders p95 <= 60 ms and orders throughput >= 40 % of /health's.

    .venv/bin/python bench/api_load.py [--seconds 10] [--clients 20] [--workers 2] [--no-seed]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.seed_desk import BENCH_SECRETS, ROOT, bench_database, bench_database_url, desk_seed, django_ready  # noqa: E402  (path first)

DATABASE = "bench_api_load"
P95_GOAL_MS, RATIO_GOAL = 60.0, 0.40
SERVER_TOTAL = re.compile(r"total;dur=([\d.]+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(database_url: str) -> dict:
    """Production-like: DEBUG off, throttles out of the way (the bench measures the work)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "REDIS_URL", "TRADEDESK_TESTING")}
    return {
        **env,
        "DATABASE_URL": database_url,
        **BENCH_SECRETS,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "API_THROTTLE_SUSTAINED": "10000000/min",
        "API_THROTTLE_BURST": "10000000/s",
        "LOG_LEVEL": "WARNING",
        "RELAY_IN_PROCESS": "false",
    }


def uvicorn_start(database_url: str, port: int, extra_env: dict | None = None, workers: int = 1) -> subprocess.Popen:
    """As rundesk starts the web process (apps/desk/management/commands/rundesk.py); `workers`
    processes as docker-compose's WEB_CONCURRENCY."""
    command = [sys.executable, "-m", "uvicorn", "tradedesk.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    env = {**server_env(database_url), **(extra_env or {})}
    server = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("uvicorn did not start")


def server_cpu_seconds(pid: int) -> float:
    """CPU (user + system) of the server and its worker processes so far (Linux /proc): the
    work per request apart from the machine's load, which stretches wall times but not this."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending += [int(child) for child in children]
    return total


def measured(server: subprocess.Popen, run) -> dict:
    before = server_cpu_seconds(server.pid)
    result = run()
    result["cpu_ms"] = (server_cpu_seconds(server.pid) - before) * 1000 / max(result["requests"], 1)
    return result


async def load(base: str, paths: list[tuple[str, dict]], clients: int, seconds: float) -> dict:
    """`clients` concurrent clients, each looping over its (path, headers) for `seconds`."""
    import aiohttp

    latencies: list[float] = []
    served: list[float] = []  # the server's own time (Server-Timing total)
    errors = 0

    async def client(session, path: str, headers: dict, stop: float):
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with session.get(base + path, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
                timing = SERVER_TOTAL.search(response.headers.get("Server-Timing", ""))
            latencies.append((time.perf_counter() - started) * 1000)
            if timing:
                served.append(float(timing.group(1)))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for path, headers in paths[:clients]:  # warm-up: one request each
            async with session.get(base + path, headers=headers) as response:
                await response.read()
        started = time.perf_counter()
        stop = started + seconds
        await asyncio.gather(*(client(session, *paths[i % len(paths)], stop) for i in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    served.sort()
    return {
        "server_p50": statistics.median(served) if served else float("nan"),
        "server_p95": served[int(len(served) * 0.95) - 1] if served else float("nan"),
        "requests": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "per_s": len(latencies) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes (2 cores: 2)")
    parser.add_argument("--no-seed", action="store_true", help="reuse the bench database as the last run left it")
    args = parser.parse_args()

    if args.no_seed:
        bench_url = bench_database_url(DATABASE)
        django_ready()
        from apps.api.models import ApiToken
        from apps.api.tokens import api_token_create

        ApiToken.objects.filter(name="bench").delete()
        from apps.exchanges.models import AccountMembership

        keys = {
            m.account_id: api_token_create(actor=None, user=m.user, name="bench", scope="trade", via="command").key
            for m in AccountMembership.objects.select_related("user")
        }
    else:
        bench_url = bench_database(DATABASE)
        django_ready()
        started = time.perf_counter()
        seed = desk_seed(accounts=10, positions=1_000, orders=100_000)
        print(f"seeded 10 accounts, 1,000 positions, 100,000 orders in {time.perf_counter() - started:.1f} s")
        keys = seed.keys
    from django.db import connections

    connections.close_all()

    port = free_port()
    server = uvicorn_start(bench_url, port, workers=args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        orders = [
            (f"/api/v1/orders/?account={account}&page_size=100", {"Authorization": f"Bearer {key}"})
            for account, key in keys.items()
        ]
        health = measured(server, lambda: asyncio.run(load(base, [("/health", {})], args.clients, args.seconds)))
        listed = measured(server, lambda: asyncio.run(load(base, orders, args.clients, args.seconds)))
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"{args.clients} concurrent clients, {args.seconds:.0f} s each, uvicorn ({args.workers} processes), PostgreSQL")
    print(
        f"{'endpoint':<40} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'server p50':>11} {'server p95':>11}"
        f" {'CPU ms/req':>11}"
    )
    for name, result in (("GET /health", health), ("GET /api/v1/orders?account=… (100)", listed)):
        print(
            f"{name:<40} {result['requests']:>9} {result['errors']:>7} {result['p50']:>8.1f} {result['p95']:>8.1f} "
            f"{result['per_s']:>8.1f} {result['server_p50']:>11.1f} {result['server_p95']:>11.1f} {result['cpu_ms']:>11.2f}"
        )
    ratio = listed["per_s"] / health["per_s"]
    print(f"orders throughput / health throughput: {ratio:.0%} (goal >= {RATIO_GOAL:.0%})")
    print(
        f"server CPU per request: orders {listed['cpu_ms']:.2f} ms, health {health['cpu_ms']:.2f} ms "
        f"(health / orders {health['cpu_ms'] / listed['cpu_ms']:.0%}: the ratio on a machine of its own)"
    )
    print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(f"orders p95: {listed['p95']:.1f} ms (goal <= {P95_GOAL_MS:.0f} ms)")
    met = listed["p95"] <= P95_GOAL_MS and ratio >= RATIO_GOAL and not listed["errors"]
    print("goals met" if met else "goals MISSED")


if __name__ == "__main__":
    main()
