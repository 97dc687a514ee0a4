"""An Optuna study, side by side: 200 trials of EMA fast/slow + stop-loss on 1,000,000 one-minute
candles with our engine as the backtest, on 2 worker processes sharing the study through
Optuna's RDB storage on PostgreSQL (as the desk's studies do); then the same study with
backtesting.py as the backtest on 100,000 candles, extrapolated per candle and per trial.
Goals: ours <= 60 s; ours >= 30x faster than the peer per candle.

Each trial backtests the train part (70 %) for the objective (Sharpe) and the test part (30 %)
for the out-of-sample figures, as `manage.py optimize --trials` does.

    python bench/optimize_speed.py [--candles 1000000] [--trials 200] [--peer-candles 100000]
                                   [--peer-trials 10] [--processes 2] [--database bench_research]

Beside the wall time it prints where the workers' CPU went (the objective: signals and the two
backtests; the rest: Optuna's sampler and its RDB storage round trips) and the machine's load:
on a shared machine the wall time is read for what it is.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import optuna  # noqa: E402 - after sys.path names the bench folder and the project
import talib  # noqa: E402 - after sys.path names the bench folder and the project
from backtest_speed import candles_arrays  # noqa: E402 - after sys.path names the bench folder and the project

from apps.engine.backtest import BacktestConfig, backtest  # noqa: E402 - after sys.path names the bench folder and the project
from apps.engine.fills import FeeSchedule  # noqa: E402 - after sys.path names the bench folder and the project
from apps.engine.strategies.base import Candles, SignalArrays  # noqa: E402 - after sys.path names the bench folder and the project

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
DATABASE = os.environ.get("BENCH_RESEARCH_DATABASE", "bench_research")  # --database: one per person on a shared machine
FEE = 0.001
TRAIN_SHARE = 0.7
optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore")


def storage_url() -> str:
    return PG_ADMIN.replace("postgres://", "postgresql+psycopg://", 1) + f"/{DATABASE}"


def database_reset() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN + "/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def space(trial) -> tuple[int, int, float]:
    return trial.suggest_int("fast", 5, 50), trial.suggest_int("slow", 60, 250), trial.suggest_float("stop", 0.5, 5.0, step=0.1)


# --- Ours ----------------------------------------------------------------------------------

_data: dict = {}  # the candles, inherited by the forked workers
_cpu = {"objective": 0.0}  # this process's CPU inside the objective


def ema_cross(close: np.ndarray, fast: int, slow: int) -> SignalArrays:
    fast_ema, slow_ema = talib.EMA(close, fast), talib.EMA(close, slow)
    above, below = fast_ema > slow_ema, fast_ema < slow_ema
    up = np.concatenate(([False], below[:-1] & above[1:]))
    down = np.concatenate(([False], above[:-1] & below[1:]))
    nothing = np.zeros(len(up), dtype=bool)
    return SignalArrays(up, down, nothing, nothing)


def part(candles: Candles, signals: SignalArrays, lo: int, hi: int) -> tuple[dict, dict]:
    cut = Candles(*(getattr(candles, c)[lo:hi] for c in ("time", "open", "high", "low", "close", "volume")))
    flags = SignalArrays(*(getattr(signals, c)[lo:hi] for c in ("entry_long", "exit_long", "entry_short", "exit_short")))
    return {"BTC/USDT": cut}, {"BTC/USDT": flags}


def ours_objective(trial) -> float:
    started = time.process_time()
    try:
        return _ours(trial)
    finally:
        _cpu["objective"] += time.process_time() - started


def _ours(trial) -> float:
    candles = _data["candles"]
    fast, slow, stop = space(trial)
    signals = ema_cross(candles.close, fast, slow)  # once over the whole history, then cut (no look-ahead)
    config = BacktestConfig(fees=FeeSchedule(FEE, FEE), stop_loss_pct=stop / 100, allow_short=False)
    split = int(len(candles) * TRAIN_SHARE)
    train = backtest(*part(candles, signals, 0, split), config)
    test = backtest(*part(candles, signals, split, len(candles)), config)
    trial.set_user_attr("test_return_pct", test.metrics["total_return_pct"])
    return train.metrics["sharpe"] if train.metrics["sharpe"] is not None else -1e9


# --- backtesting.py ------------------------------------------------------------------------


def peer_objective(trial) -> float:
    from functools import partialmethod

    from tqdm import tqdm

    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)  # backtesting.py draws a progress bar per run
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    fast, slow, stop = space(trial)

    class EmaCrossStop(Strategy):
        def init(self):
            self.fast = self.I(talib.EMA, self.data.Close, fast)
            self.slow = self.I(talib.EMA, self.data.Close, slow)

        def next(self):
            if crossover(self.fast, self.slow) and not self.position:
                self.buy(sl=self.data.Close[-1] * (1 - stop / 100))
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = _data["frame"]
    split = int(len(frame) * TRAIN_SHARE)
    runs = []
    for lo, hi in ((0, split), (split, len(frame))):
        runs.append(FractionalBacktest(frame.iloc[lo:hi], EmaCrossStop, cash=10_000, commission=FEE, fractional_unit=1e-8).run())
    sharpe = runs[0]["Sharpe Ratio"]
    return float(sharpe) if np.isfinite(sharpe) else -1e9


# --- The study on worker processes ----------------------------------------------------------


def worker(name: str, objective_name: str, trials: int, seed: int, report) -> None:
    """This worker's share of the trials (the shares add up to the study's count exactly); sends
    back (its CPU seconds, those inside the objective)."""
    objective = ours_objective if objective_name == "ours" else peer_objective
    started = time.process_time()
    study = optuna.load_study(study_name=name, storage=storage_url(), sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    report.put((time.process_time() - started, _cpu["objective"]))


def study_run(name: str, objective_name: str, trials: int, processes: int) -> tuple[float, int, tuple[float, float]]:
    """(wall seconds, complete trials, (workers' CPU seconds, of which inside the objective))."""
    optuna.create_study(study_name=name, storage=storage_url(), direction="maximize")
    context = multiprocessing.get_context("fork")  # the workers inherit the candles
    report = context.Queue()
    started = time.perf_counter()
    shares = [trials // processes + (index < trials % processes) for index in range(processes)]
    workers = [
        context.Process(target=worker, args=(name, objective_name, share, seed, report)) for seed, share in enumerate(shares)
    ]
    for process in workers:
        process.start()
    cpu = [report.get() for _ in workers]
    for process in workers:
        process.join()
    elapsed = time.perf_counter() - started
    done = optuna.load_study(study_name=name, storage=storage_url()).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return elapsed, len(done), (sum(total for total, _ in cpu), sum(inside for _, inside in cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--peer-candles", type=int, default=100_000)
    parser.add_argument("--peer-trials", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--database", default=DATABASE, help="the PostgreSQL database the bench drops and creates")
    args = parser.parse_args()
    globals()["DATABASE"] = args.database
    database_reset()

    arrays = candles_arrays(args.candles)
    _data["candles"] = Candles(arrays["time"], arrays["open"], arrays["high"], arrays["low"], arrays["close"], arrays["volume"])
    ours_s, ours_done, (ours_cpu, ours_objective_cpu) = study_run("ours", "ours", args.trials, args.processes)
    load = os.getloadavg()[0]
    best = optuna.load_study(study_name="ours", storage=storage_url()).best_trial

    import pandas as pd

    peer = candles_arrays(args.peer_candles)
    _data["frame"] = pd.DataFrame(
        {"Open": peer["open"], "High": peer["high"], "Low": peer["low"], "Close": peer["close"], "Volume": peer["volume"]},
        index=pd.to_datetime(peer["time"], unit="ms"),
    )
    peer_s, peer_done, _ = study_run("peer", "peer", args.peer_trials, args.processes)

    ours_per = ours_s / (ours_done * args.candles)
    peer_per = peer_s / (peer_done * args.peer_candles)
    peer_extrapolated = peer_per * args.trials * args.candles
    print(f"Optuna TPE, RDB storage on PostgreSQL, {args.processes} worker processes, train {TRAIN_SHARE:.0%} / test")
    print(f"{'':26}{'trials':>8}{'candles':>12}{'seconds':>10}{'µs/candle/trial':>17}")
    print(f"{'ours (apps.engine)':26}{ours_done:>8}{args.candles:>12,}{ours_s:>10.1f}{ours_per * 1e6:>17.4f}")
    print(f"{'backtesting.py 0.6.6':26}{peer_done:>8}{args.peer_candles:>12,}{peer_s:>10.1f}{peer_per * 1e6:>17.4f}")
    print(
        f"{args.trials} trials x {args.candles:,} candles: ours {ours_s:.1f} s (goal <= 60 s); backtesting.py extrapolated "
        f"{peer_extrapolated:,.0f} s; ratio {peer_per / ours_per:.0f}x (goal >= 30x)"
    )
    print(
        f"ours, the workers' CPU: {ours_cpu:.1f} s ({ours_cpu / max(ours_done, 1) * 1000:.0f} ms a trial): "
        f"the objective {ours_objective_cpu:.1f} s (signals and two backtests), Optuna's sampler and RDB storage "
        f"{ours_cpu - ours_objective_cpu:.1f} s; the database server's CPU not counted; "
        f"load average {load:.2f} on {os.cpu_count()} cores"
    )
    params = {name: round(value, 4) for name, value in best.params.items()}
    print(f"best: {params} train Sharpe {best.value:.3f}, test return {best.user_attrs['test_return_pct']:.2f} %")


if __name__ == "__main__":
    main()
