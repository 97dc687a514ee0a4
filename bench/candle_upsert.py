"""Bulk candle upsert throughput, PostgreSQL and SQLite side by side.

    .venv/bin/python bench/candle_upsert.py [--candles 200000]

Each backend runs in its own process on a fresh database (PostgreSQL: bench_tradedesk on
127.0.0.1, SQLite: a temp file in WAL mode), through the desk's own candles_upsert.
Goal: >= 50,000 candles/s on PostgreSQL.
"""

import argparse
import json
import time

from backends import django_setup, per_backend

BATCH = 10_000


def run_one(candles: int) -> dict:
    django_setup()
    from django.db import transaction

    from apps.markets.models import Exchange, Market
    from apps.markets.services import candles_upsert
    from tests.markets.factories import candle_rows

    exchange, _ = Exchange.objects.get_or_create(code="bench", defaults={"name": "bench"})
    market, _ = Market.objects.get_or_create(exchange=exchange, symbol="BTC/USDT", defaults={"base": "BTC", "quote": "USDT"})
    rows = candle_rows(count=candles)
    timings = {}
    for label in ("insert", "re-insert (all present)"):
        started = time.perf_counter()
        inserted = 0
        for start in range(0, candles, BATCH):
            with transaction.atomic():
                inserted += len(candles_upsert(market=market, timeframe="1m", rows=rows[start : start + BATCH]))
        elapsed = time.perf_counter() - started
        timings[label] = {"seconds": elapsed, "per_second": candles / elapsed, "inserted": inserted}
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candles", type=int, default=200_000)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.candles)))
        return
    results = per_backend(__file__, ["--candles", str(args.candles)])
    print(f"Bulk candle upsert, {args.candles:,} candles in transactions of {BATCH:,} (goal: >= 50,000/s on PostgreSQL)")
    print(f"{'backend':<12}{'phase':<26}{'seconds':>10}{'candles/s':>14}{'inserted':>12}")
    for name, phases in results.items():
        if isinstance(phases, str):
            print(f"{name:<12}{phases}")
            continue
        for phase, figures in phases.items():
            print(f"{name:<12}{phase:<26}{figures['seconds']:>10.2f}{figures['per_second']:>14,.0f}{figures['inserted']:>12,}")


if __name__ == "__main__":
    main()
