"""CPU per signal of batched placement (signals_place), in one process: the desk's own Python
(this process's CPU time) and PostgreSQL's (the server backend's CPU time, from
/proc/<pid>/schedstat), beside the wall time. CPU time is what a shared machine does not
inflate, so two versions compare in the same sitting by running this file in each tree.

    .venv/bin/python bench/placement_cpu.py [--signals 1000] [--batch 100] [--rounds 3] [--goal-sizing]

The desk is signal_throughput's (one entry per market, every signal a NEW order); one account
per round, plus one placed first to warm the caches. The database is the one named in
BENCH_PLACEMENT_CPU_POSTGRES_URL (default bench_placement_cpu); it is dropped and created.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["BENCH_TRADING_POSTGRES_URL"] = os.environ.get(
    "BENCH_PLACEMENT_CPU_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_placement_cpu"
)
sys.path.insert(0, str(ROOT))

from bench import signal_throughput as throughput  # noqa: E402 - reads the URL above at import


def backend_cpu_ns(pid: int) -> int:
    """The CPU time the PostgreSQL backend `pid` has used (on this machine), in ns."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def place_timed(signal_ids: list[int], batch: int, pid: int) -> tuple[float, float, float]:
    """(this process's CPU s, the backend's CPU s, wall s) to place the signals batch by batch."""
    from apps.trading.services.placement import signals_place

    cpu, server, wall = time.process_time(), backend_cpu_ns(pid), time.perf_counter()
    placed = 0
    for start in range(0, len(signal_ids), batch):
        orders = signals_place(signal_ids=signal_ids[start : start + batch])
        placed += sum(1 for order in orders.values() if order is not None)
    figures = time.process_time() - cpu, (backend_cpu_ns(pid) - server) / 1e9, time.perf_counter() - wall
    assert placed == len(signal_ids), f"{placed} orders from {len(signal_ids)} signals: not the path into NEW orders"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=1000, help="signals per account (one round)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--goal-sizing", action="store_true", help="an active goal with catch-up on every account")
    args = parser.parse_args()
    throughput.database_reset()
    throughput.django_setup()
    from django.db import connection

    plan = throughput.desk_build(args.rounds + 1, args.signals, prefix="one")
    if args.goal_sizing:
        throughput.goal_sizing_switch_on(plan)
    gc.collect()  # the desk build's garbage, then what is loaded frozen, as the desk's processes do
    gc.freeze()  # (tradedesk/asgi.py, the workers): a full collection's walk of it is not placement's
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    place_timed(plan[0][1], args.batch, pid)  # warm-up: imports, plans, caches
    rounds = [place_timed(ids, args.batch, pid) for _, ids in plan[1:]]
    per = lambda seconds: seconds / args.signals * 1e6  # noqa: E731 - µs per signal
    print(
        f"signals_place CPU per signal, {args.signals} signals per round in batches of {args.batch}"
        f"{', goal sizing on' if args.goal_sizing else ''} (uptime: {os.getloadavg()[0]:.2f} load)"
    )
    for index, (cpu, server, wall) in enumerate(rounds, 1):
        print(
            f"  round {index}: desk {per(cpu):7.0f} µs  PostgreSQL {per(server):7.0f} µs  "
            f"together {per(cpu + server):7.0f} µs   wall {per(wall):7.0f} µs"
        )
    cpu, server, wall = (statistics.median(values) for values in zip(*rounds, strict=True))
    print(
        f"  median:  desk {per(cpu):7.0f} µs  PostgreSQL {per(server):7.0f} µs  together {per(cpu + server):7.0f} µs"
        f"   wall {per(wall):7.0f} µs  -> {args.signals / (cpu + server):.0f} signals/s per CPU"
    )


if __name__ == "__main__":
    main()
