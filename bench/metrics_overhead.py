"""What the seed's metrics cost on the order path: the calls order_send, order_transition and the
evaluation make per order (multiprocess mode: a write into a memory-mapped file), against the
same loop without them, and the price of a /metrics scrape as the files grow.

    .venv/bin/python bench/metrics_overhead.py [--orders 20000]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")
    os.environ.setdefault("TRADEDESK_TESTING", "1")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
    import django

    django.setup()


def per_order(metrics, symbol: str, strategy: str) -> None:
    """Everything counted for one filled market order and its signal."""
    metrics.signals_generated.labels(strategy, "buy").inc()
    metrics.orders_submitted.labels(symbol, "market", strategy).inc()
    metrics.order_submission_seconds.labels(symbol).observe(0.012)
    metrics.orders_filled.labels(symbol, strategy).inc()


def in_process_peer():
    """The same four metrics with prometheus_client's in-memory values (what a single process would use)."""
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry, Counter, Histogram, values

    registry, kept = CollectorRegistry(), values.ValueClass
    values.ValueClass = values.MutexValue
    try:
        return SimpleNamespace(
            signals_generated=Counter("peer_signals", "", ["strategy", "signal_type"], registry=registry),
            orders_submitted=Counter("peer_submitted", "", ["symbol", "order_type", "strategy"], registry=registry),
            order_submission_seconds=Histogram("peer_seconds", "", ["symbol"], registry=registry),
            orders_filled=Counter("peer_filled", "", ["symbol", "strategy"], registry=registry),
        )
    finally:
        values.ValueClass = kept


def timed(loop, count: int) -> float:
    started = time.perf_counter()
    loop(count)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    args = parser.parse_args()
    setup()
    from apps.common import metrics

    symbols = [f"S{n}/USDT" for n in range(30)]

    def without(count):
        for n in range(count):
            symbols[n % 30].upper()

    def with_metrics(count):
        for n in range(count):
            per_order(metrics, symbols[n % 30], f"strategy-{n % 10}")

    in_memory = in_process_peer()

    def with_in_memory(count):
        for n in range(count):
            per_order(in_memory, symbols[n % 30], f"strategy-{n % 10}")

    with_metrics(100)  # the first use of a label set creates its entries
    with_in_memory(100)
    base, instrumented, peer = timed(without, args.orders), timed(with_metrics, args.orders), timed(with_in_memory, args.orders)
    print(f"metrics per order (4 updates), {args.orders} orders, 30 symbols x 10 strategies:")
    print(f"  loop alone                         {base:8.2f} us/order")
    print(f"  + metrics, multiprocess (the desk) {instrumented:8.2f} us/order   (+{instrumented - base:.2f} us)")
    print(f"  + metrics, one process only (peer) {peer:8.2f} us/order   (+{peer - base:.2f} us)")
    print("  (an order from candle to acknowledgement takes ~100 000 us: bench/pipeline_latency.py)")
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    started = time.perf_counter()
    text = generate_latest(registry)
    print(
        f"  merging the processes' files for a scrape: {(time.perf_counter() - started) * 1000:.1f} ms for {len(text) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
