"""Backtest speed, side by side: our engine, backtesting.py and vectorbt on the same candles.

1,000,000 seeded random-walk one-minute candles, EMA 12/26 crossover long-only, 0.1 % fee per
leg, fills at the next candle's open. Then ours again with a 2 % stop-loss and 4 % take-profit.
Ours includes indicators + simulation + metrics. Prints medians, the speedup against
backtesting.py (run once: ~10 s), the first backtest in a new process, and peak memory.

    python bench/backtest_speed.py [--candles 1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEE = 0.001
START_MS = 1_704_067_200_000


def candles_arrays(count: int, seed: int = 42) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, count)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.0005, count)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.0005, count)))
    time_ms = START_MS + np.arange(count, dtype=np.int64) * 60_000
    return {"time": time_ms, "open": open_, "high": high, "low": low, "close": close, "volume": np.ones(count)}


OURS_RUN = """
import numpy as np, talib
from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule, MarketRules
from apps.engine.strategies.base import Candles, SignalArrays

def ema_cross(candles):
    fast, slow = talib.EMA(candles.close, 12), talib.EMA(candles.close, 26)
    above, below = fast > slow, fast < slow
    up = np.concatenate(([False], below[:-1] & above[1:]))
    down = np.concatenate(([False], above[:-1] & below[1:]))
    nothing = np.zeros(len(up), dtype=bool)
    return SignalArrays(up, down, nothing, nothing)

def ours_run(arrays, stop=None, target=None):
    candles = Candles(arrays["time"], arrays["open"], arrays["high"], arrays["low"], arrays["close"], arrays["volume"])
    # Amounts in steps of 1e-8 like the peers (FractionalBacktest's satoshi, vectorbt's
    # size_granularity): all-in with a 0.1 % fee drains this random walk, and every engine must
    # stop buying at the same point, when the balance no longer pays for one step.
    config = BacktestConfig(fees=FeeSchedule(maker=0.001, taker=0.001), stop_loss_pct=stop, take_profit_pct=target,
                            allow_short=False, precision={"BTC/USDT": MarketRules(amount_step=1e-8)})
    return backtest({"BTC/USDT": candles}, {"BTC/USDT": ema_cross(candles)}, config)
"""
exec(OURS_RUN)  # the same code runs in the new-process measurement below


def median_seconds(function, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def backtesting_py_once(arrays) -> tuple[float, object]:
    import pandas as pd
    import talib
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    class EmaCross(Strategy):
        def init(self):
            self.fast = self.I(talib.EMA, self.data.Close, 12)
            self.slow = self.I(talib.EMA, self.data.Close, 26)

        def next(self):
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = pd.DataFrame(
        {
            "Open": arrays["open"],
            "High": arrays["high"],
            "Low": arrays["low"],
            "Close": arrays["close"],
            "Volume": arrays["volume"],
        },
        index=pd.to_datetime(arrays["time"], unit="ms"),
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = FractionalBacktest(frame, EmaCross, cash=10_000, commission=FEE, fractional_unit=1e-8).run()
    return time.perf_counter() - started, stats


def vectorbt_runs(arrays, runs: int):
    try:
        import pandas as pd
        import talib
        import vectorbt as vbt
    except Exception as exc:  # an optional peer: say why and go on
        return f"not installed ({type(exc).__name__}: {exc})", None, None
    index = pd.to_datetime(arrays["time"], unit="ms")  # timezone-naive

    def run():
        close = pd.Series(arrays["close"], index=index)
        fast, slow = talib.EMA(arrays["close"], 12), talib.EMA(arrays["close"], 26)
        above, below = fast > slow, fast < slow
        up = np.concatenate(([False], below[:-1] & above[1:]))
        down = np.concatenate(([False], above[:-1] & below[1:]))
        # Next-open fills: the signal of candle i acts at candle i+1, at its open.
        entries = pd.Series(np.concatenate(([False], up[:-1])), index=index)
        exits = pd.Series(np.concatenate(([False], down[:-1])), index=index)
        portfolio = vbt.Portfolio.from_signals(
            close, entries, exits, price=pd.Series(arrays["open"], index=index), fees=FEE, init_cash=10_000, freq="1min"
        )
        return portfolio.stats()

    first_started = time.perf_counter()
    run()  # includes numba compilation
    first = time.perf_counter() - first_started
    median, stats = median_seconds(run, runs)
    return median, first, stats


def new_process_first_run(arrays) -> dict:
    """A fresh interpreter: imports + loading candles + one backtest with metrics; peak memory."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "candles.npz"
        np.savez(path, **arrays)
        script = (
            "import time; started = time.perf_counter()\n"
            "import resource, sys, tracemalloc, json\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "import numpy as np\n" + OURS_RUN + f"arrays = dict(np.load({str(path)!r}))\n"
            "loaded = time.perf_counter()\n"
            "result = ours_run(arrays, 0.02, 0.04)\n"
            "first = time.perf_counter() - started\n"
            "tracemalloc.start(); ours_run(arrays, 0.02, 0.04); traced = tracemalloc.get_traced_memory()[1]\n"
            # VmHWM, not ru_maxrss: Linux carries the parent's peak across fork + exec into ru_maxrss.
            "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')][0].split()[1]\n"
            "print(json.dumps({'first_s': first, 'load_s': loaded - started, 'maxrss_mib': "
            "int(hwm) / 1024, 'traced_peak_mib': traced / 2**20}))\n"
        )
        output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        figures = json.loads(output.stdout.strip().splitlines()[-1])
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        figures["interpreter_s"] = time.perf_counter() - started
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    arrays = candles_arrays(args.candles)
    print(f"{args.candles:,} one-minute candles, EMA 12/26 long-only, fee {FEE:.1%}, next-open fills\n")

    ours_median, ours = median_seconds(lambda: ours_run(arrays), args.runs)
    stops_median, stopped = median_seconds(lambda: ours_run(arrays, 0.02, 0.04), args.runs)
    rows = [("ours", ours_median, len(ours.trade_table["pnl"]), ours.final_equity)]
    peer_seconds = None
    if not args.skip_peers:
        peer_seconds, peer = backtesting_py_once(arrays)
        rows.append(("backtesting.py 0.6.6 (1 run)", peer_seconds, int(peer["# Trades"]), float(peer["Equity Final [$]"])))
        vbt_median, vbt_first, vbt_stats = vectorbt_runs(arrays, max(3, args.runs // 2))
        if vbt_stats is None:
            print(f"vectorbt: {vbt_median}")
        else:
            # vectorbt trades any fraction (no 1e-8 step), so it stops draining the account a bit later.
            rows.append(
                (
                    f"vectorbt (first run {vbt_first:.2f} s incl. JIT)",
                    vbt_median,
                    int(vbt_stats["Total Trades"]),
                    float(vbt_stats["End Value"]),
                )
            )
    rows.append(("ours, 2 % stop / 4 % take-profit", stops_median, len(stopped.trade_table["pnl"]), stopped.final_equity))

    print(f"{'engine':48} {'median s':>9} {'vs bt.py':>9} {'trades':>7} {'final equity':>14}")
    for name, seconds, trades, final in rows:
        ratio = f"{peer_seconds / seconds:8.1f}x" if peer_seconds else "        -"
        print(f"{name:48} {seconds:9.3f} {ratio} {trades:7d} {final:14.6g}")
    figures = new_process_first_run(arrays)
    print(
        f"\nfirst backtest in a new process (imports + load + indicators + simulation + metrics, with stops): "
        f"{figures['first_s']:.2f} s from the script's first line, + {figures['interpreter_s']:.2f} s interpreter start "
        f"(of which imports + loading the candles file: {figures['load_s']:.2f} s)"
    )
    print(
        f"peak memory of that process: {figures['maxrss_mib']:.0f} MiB peak RSS (VmHWM); "
        f"one backtest allocates at most {figures['traced_peak_mib']:.0f} MiB (tracemalloc)"
    )


if __name__ == "__main__":
    main()
