"""The cockpit pages on a full desk: server time of `/`, `/positions/`, `/orders/` (first page)
and `/performance/` for a logged-in trader, on PostgreSQL holding 50 strategies, 300
positions, 100,000 orders, 1,000,000 candles and a year of hourly portfolio snapshots
(bench/seed_desk.py). Server time: the request through Django's whole handler (middleware,
view, template) in this process, without the network. Goal: p95 <= 150 ms each.

    .venv/bin/python bench/pages.py [--requests 30] [--candles 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.seed_desk import bench_database, desk_seed, django_ready  # noqa: E402  (path first)

DATABASE = "bench_pages"
PAGES = ["/", "/positions/", "/orders/", "/performance/"]
GOAL_MS = 150.0
HOURS_A_YEAR = 365 * 24


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--candles", type=int, default=1_000_000)
    args = parser.parse_args()

    bench_database(DATABASE)
    django_ready()
    started = time.perf_counter()
    seed = desk_seed(
        accounts=3, markets=100, strategies=50, positions=300, orders=100_000, candles=args.candles, snapshot_hours=HOURS_A_YEAR
    )
    print(
        f"seeded 3 accounts, 50 strategies, 300 positions, 100,000 orders, {args.candles:,} candles, "
        f"a year of hourly snapshots in {time.perf_counter() - started:.1f} s"
    )

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    client.force_login(User.objects.get(username=next(iter(seed.traders.values()))))

    print(
        f"server time of each page, {args.requests} requests after one warm-up, logged in as a trader (goal p95 <= {GOAL_MS:.0f} ms)"
    )
    print(f"{'page':<16} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    missed = []
    for page in PAGES:
        assert client.get(page).status_code == 200, page
        times = []
        for _ in range(args.requests):
            begun = time.perf_counter()
            response = client.get(page)
            times.append((time.perf_counter() - begun) * 1000)
            assert response.status_code == 200, page
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"{page:<16} {statistics.median(times):>8.1f} {p95:>8.1f} {times[-1]:>8.1f}")
        if p95 > GOAL_MS:
            missed.append(page)
    print("goals met" if not missed else f"goal MISSED on {', '.join(missed)}")


if __name__ == "__main__":
    main()
