"""The cockpit pages on a full desk: server time of `/`, `/positions/`, `/orders/` (first page)
and `/performance/` (a year of hourly snapshots) for a logged-in trader, on PostgreSQL holding
50 strategies, 300 positions, 100,000 orders, 1,000,000 candles and a year of hourly portfolio
snapshots (bench/seed_desk.py). Goal: p95 <= 150 ms each, query count constant.

The desk runs under uvicorn as deployed (DEBUG off, bench/api_load.py's `uvicorn_start`) and
is asked one request at a time over one kept-alive connection, so no request waits behind
another. Server time is the server's own `Server-Timing: total` (apps/web/middleware.py: the
whole middleware chain, view and template); the time the client saw, network and ASGI
included, is printed beside it, with the queries of each page, and the processor time of the
request's thread (Server-Timing `cpu`): on a machine shared with other work the server time
also counts the waits for a core, the processor time does not, so that is the figure to
compare between runs on a loaded machine. The machine's load average is printed with them.

    .venv/bin/python bench/pages.py [--requests 30] [--candles 1000000] [--no-seed]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_load import free_port, uvicorn_start  # noqa: E402  (path first)
from bench.seed_desk import bench_database, bench_database_url, desk_seed, django_ready  # noqa: E402

DATABASE = "bench_pages"
PAGES = ["/", "/positions/", "/orders/", "/performance/"]
GOAL_MS = 150.0
HOURS_A_YEAR = 365 * 24
TIMING = re.compile(r'db;dur=([\d.]+);desc="(\d+) queries", total;dur=([\d.]+), cpu;dur=([\d.]+)')


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--no-seed", action="store_true", help="reuse the bench database as the last run left it")
    args = parser.parse_args()

    if args.no_seed:
        url = bench_database_url(DATABASE)
        django_ready()
    else:
        url = bench_database(DATABASE)
        django_ready()
        started = time.perf_counter()
        desk_seed(
            accounts=3,
            markets=100,
            strategies=50,
            positions=300,
            orders=100_000,
            candles=args.candles,
            snapshot_hours=HOURS_A_YEAR,
        )
        print(
            f"seeded 3 accounts, 50 strategies, 300 positions, 100,000 orders, {args.candles:,} candles, "
            f"a year of hourly snapshots in {time.perf_counter() - started:.1f} s"
        )

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connections
    from django.test import Client

    login = Client()
    login.force_login(User.objects.get(username="trader0"))  # the trader of account 0
    cookie = f"{settings.SESSION_COOKIE_NAME}={login.cookies[settings.SESSION_COOKIE_NAME].value}"
    connections.close_all()

    port = free_port()
    server = uvicorn_start(url, port)
    load_before = os.getloadavg()
    try:
        results = {page: pages_timed(port, page, cookie, args.requests) for page in PAGES}
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"server time of each page (Server-Timing), {args.requests} requests one at a time after one warm-up, "
        f"uvicorn (one process), DEBUG off, logged in as a trader (goal p95 <= {GOAL_MS:.0f} ms)"
    )
    loads = " -> ".join(" ".join(f"{n:.2f}" for n in load) for load in (load_before, os.getloadavg()))
    print(f"load average (1, 5, 15 min) {loads} on {os.cpu_count()} cores")
    print(
        f"{'page':<16} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'db p95':>8} "
        f"{'queries':>8} {'client p95':>11} {'kB':>6}"
    )
    missed = []
    for page, result in results.items():
        server_ms = result["server"]
        queries = sorted(set(result["queries"]))
        print(
            f"{page:<16} {statistics.median(server_ms):>8.1f} {p95(server_ms):>8.1f} {max(server_ms):>8.1f} "
            f"{statistics.median(result['cpu']):>8.1f} {p95(result['cpu']):>8.1f} {p95(result['db']):>8.1f} {'/'.join(map(str, queries)):>8} {p95(result['client']):>11.1f} {result['bytes'] / 1000:>6.0f}"
        )
        if p95(server_ms) > GOAL_MS:
            missed.append(page)
    print("goals met" if not missed else f"goal MISSED on {', '.join(missed)}")


def pages_timed(port: int, page: str, cookie: str, requests: int) -> dict:
    """`requests` GETs of the page, one after the other on one connection, after a warm-up."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    result = {"server": [], "cpu": [], "db": [], "queries": [], "client": [], "bytes": 0}
    for number in range(requests + 1):
        begun = time.perf_counter()
        connection.request("GET", page, headers={"Cookie": cookie, "Host": "127.0.0.1"})
        response = connection.getresponse()
        body = response.read()
        seen = (time.perf_counter() - begun) * 1000
        assert response.status == 200, (page, response.status, body[:300])
        timing = TIMING.search(response.getheader("Server-Timing", ""))
        assert timing, f"{page}: no Server-Timing header (SERVER_TIMING off?)"
        if number == 0:
            continue  # warm-up: templates compiled, connections opened
        result["db"].append(float(timing.group(1)))
        result["queries"].append(int(timing.group(2)))
        result["server"].append(float(timing.group(3)))
        result["cpu"].append(float(timing.group(4)))
        result["client"].append(seen)
        result["bytes"] = len(body)
    connection.close()
    return result


if __name__ == "__main__":
    os.environ.setdefault("SERVER_TIMING", "1")
    main()
