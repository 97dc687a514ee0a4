"""Backfill 30 days of 1m candles (43,200) for one market from the simulated exchange,
through the real ccxt client and the desk's own backfill service, into SQLite and PostgreSQL.

    .venv/bin/python bench/backfill_speed.py [--days 30]

Goal: <= 20 s end to end.
"""

import argparse
import json
import time

from backends import django_setup, per_backend


def run_one(days: int) -> dict:
    django_setup()
    from datetime import UTC, datetime, timedelta

    from apps.markets.models import Candle
    from apps.markets.services import candles_backfill, market_spec_fetch
    from tests.markets.factories import exchange_make
    from tests.simulated_exchange import simexchange_running

    with simexchange_running(seed=7, history_days=days + 1) as sim:
        exchange = exchange_make(api_url=sim.url)
        from apps.markets.models import Market

        market = Market.objects.create(
            exchange=exchange, symbol="BTC/USDT", **market_spec_fetch(exchange=exchange, symbol="BTC/USDT")
        )
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        started = time.perf_counter()
        result = candles_backfill(market=market, timeframe="1m", start=end - timedelta(days=days), end=end)
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "inserted": result.inserted, "stored": Candle.objects.count()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.days)))
        return
    results = per_backend(__file__, ["--days", str(args.days)])
    print(f"Backfill {args.days} days of 1m candles from simexchange through ccxt (goal: <= 20 s)")
    print(f"{'backend':<12}{'seconds':>10}{'candles':>10}{'candles/s':>12}")
    for name, figures in results.items():
        if isinstance(figures, str):
            print(f"{name:<12}{figures}")
        else:
            print(
                f"{name:<12}{figures['seconds']:>10.2f}{figures['inserted']:>10,}{figures['inserted'] / figures['seconds']:>12,.0f}"
            )


if __name__ == "__main__":
    main()
