"""A parameter sweep: 100 EMA fast/slow sets over the same 1,000,000 one-minute candles on 2
cores (apps.engine.sweep, which `manage.py optimize` can reuse). Goal: <= 30 s.

    python bench/sweep_speed.py [--candles 1000000] [--sets 100] [--processes 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import talib  # noqa: E402 - after sys.path names the bench folder and the project
from backtest_speed import candles_arrays  # noqa: E402 - after sys.path names the bench folder and the project

from apps.engine.backtest import BacktestConfig  # noqa: E402 - after sys.path names the bench folder and the project
from apps.engine.fills import FeeSchedule  # noqa: E402 - after sys.path names the bench folder and the project
from apps.engine.strategies.base import Candles, SignalArrays  # noqa: E402 - after sys.path names the bench folder and the project
from apps.engine.sweep import sweep_run  # noqa: E402 - after sys.path names the bench folder and the project


def ema_cross(candles: Candles, params) -> SignalArrays:
    fast, slow = talib.EMA(candles.close, params["fast"]), talib.EMA(candles.close, params["slow"])
    above, below = fast > slow, fast < slow
    up = np.concatenate(([False], below[:-1] & above[1:]))
    down = np.concatenate(([False], above[:-1] & below[1:]))
    nothing = np.zeros(len(up), dtype=bool)
    return SignalArrays(up, down, nothing, nothing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--sets", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    arrays = candles_arrays(args.candles)
    candles = {
        "BTC/USDT": Candles(arrays["time"], arrays["open"], arrays["high"], arrays["low"], arrays["close"], arrays["volume"])
    }
    grid = [{"fast": fast, "slow": slow} for fast in range(5, 55, 5) for slow in range(60, 260, 20)][: args.sets]
    config = BacktestConfig(fees=FeeSchedule(0.001, 0.001), stop_loss_pct=0.02, take_profit_pct=0.04, allow_short=False)
    started = time.perf_counter()
    results = sweep_run(candles=candles, make_signals=ema_cross, param_sets=grid, config=config, processes=args.processes)
    elapsed = time.perf_counter() - started
    best = max(results, key=lambda item: item.metrics["total_return_pct"])
    print(
        f"{len(results)} parameter sets x {args.candles:,} candles on {args.processes} processes: {elapsed:.1f} s "
        f"({elapsed / len(results) * args.processes:.2f} s per backtest per core); goal <= 30 s"
    )
    print(f"best: {best.params} total return {best.metrics['total_return_pct']:.2f} % over {best.metrics['trades']} trades")


if __name__ == "__main__":
    main()
