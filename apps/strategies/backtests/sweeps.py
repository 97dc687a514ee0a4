"""Parameter sweeps: grid or random search over a strategy's params schema, with a train/test
split by time, run on several processes by apps.engine.sweep and stored as BacktestRun rows
under one sweep id. The best set is chosen on the train part and judged on the test part."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from apps.engine.strategies.base import Candles, InvalidParamsError, Param
from apps.engine.strategies.registry import strategy_get
from apps.engine.strategies.timeframes import candles_resample
from apps.engine.sweep import sweep_run
from apps.strategies.backtests.plan import (
    BacktestPlan,
    BacktestRequest,
    backtest_plan,
    engine_strategy_build,
    params_parse,
)
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.services import (
    PROGRESS_DELAY,
    backtest_files_write,
    backtest_result,
    backtest_run_build,
    candles_slice,
    code_version,
    data_hash,
    market_data_load,
    signals_slice,
)
from apps.strategies.models import BacktestRun

# Name a trader types -> (metrics key, True when higher is better).
SWEEP_METRICS = {
    "sharpe": ("sharpe", True),
    "sortino": ("sortino", True),
    "calmar": ("calmar", True),
    "total_return": ("total_return_pct", True),
    "annualised_return": ("annualised_return_pct", True),
    "profit_factor": ("profit_factor", True),
    "win_rate": ("win_rate_pct", True),
    "expectancy": ("expectancy", True),
    "net_pnl": ("net_pnl", True),
    "max_drawdown": ("max_drawdown_pct", False),
}
MAX_PARAM_SETS = 5000
MIN_PART_CANDLES = 10


@dataclass
class SweepRequest:
    backtest: BacktestRequest
    grid: list[str] = field(default_factory=list)  # "name=v1,v2,..."
    random: int | None = None
    seed: int = 0
    train_ratio: float = 0.7
    metric: str = "sharpe"
    processes: int = 2


@dataclass
class SweepOutcome:
    sweep_id: uuid.UUID
    runs: list[BacktestRun]  # best first (by the train metric)
    best: BacktestRun
    invalid_sets: int
    metric_key: str
    swept: list[str]  # the params that vary


def sweep_execute(request: SweepRequest, *, progress: bool | None = None, owner=None) -> SweepOutcome:
    if request.metric not in SWEEP_METRICS:
        raise BacktestError(f"--metric {request.metric!r} is not one of {', '.join(SWEEP_METRICS)}")
    if not 0.1 <= request.train_ratio <= 0.95:
        raise BacktestError(f"--train-ratio must be between 0.1 and 0.95, got {request.train_ratio}")
    plan = backtest_plan(request.backtest)
    param_sets, invalid, swept = param_sets_build(plan, request)
    data = market_data_load(plan)
    full = {symbol: market.candles for symbol, market in data.items()}
    split_ms, train, test = _split(full, request.train_ratio)
    results = _run_parts(plan, full, train, test, param_sets, request.processes, progress)
    runs = _store(plan, request, full, split_ms, param_sets, results, owner)
    return SweepOutcome(runs[0].sweep_id, runs, runs[0], invalid, SWEEP_METRICS[request.metric][0], swept)


# --- Parameter sets ------------------------------------------------------------------------


def param_sets_build(plan: BacktestPlan, request: SweepRequest) -> tuple[list[dict], int, list[str]]:
    """Validated parameter sets (defaults filled), how many combinations broke a rule (e.g.
    fast >= slow), and the names that vary."""
    cls = strategy_get(plan.kind)
    schema = {param.name: param for param in cls.params_schema}
    fixed = {**(plan.strategy.params if plan.strategy else {}), **params_parse(request.backtest.params)}
    grid = _grid_values(request.grid, schema)
    if request.random:
        raw_sets = _random_sets(schema, fixed, grid, request.random, request.seed)
    elif grid:
        names = list(grid)
        raw_sets = [{**fixed, **dict(zip(names, combo))} for combo in itertools.product(*grid.values())]
    else:
        raise BacktestError("nothing to sweep: give --grid name=v1,v2,... or --random N")
    if len(raw_sets) > MAX_PARAM_SETS:
        raise BacktestError(f"{len(raw_sets)} parameter sets is too many for one sweep (at most {MAX_PARAM_SETS})")
    valid, seen = [], set()
    for raw in raw_sets:
        try:
            params = cls.validate_params(raw)
        except InvalidParamsError:
            continue
        key = tuple(sorted(params.items()))
        if key not in seen:
            seen.add(key)
            valid.append(params)
    if not valid:
        raise BacktestError(
            f"none of the {len(raw_sets)} parameter sets is valid for {plan.kind} (check the ranges against its rules)"
        )
    swept = [name for name in schema if len({str(p[name]) for p in valid}) > 1]
    return valid, len(raw_sets) - len(valid), swept


def _grid_values(pairs: list[str], schema: dict[str, Param]) -> dict[str, list]:
    grid = {}
    for pair in pairs:
        name, sep, values = pair.partition("=")
        name = name.strip()
        if not sep or not values.strip():
            raise BacktestError(f"--grid {pair!r}: write it as name=v1,v2,... e.g. --grid period=7,14,21")
        if name not in schema:
            raise BacktestError(f"--grid {name!r} is not a parameter; the strategy has {', '.join(schema)}")
        try:
            grid[name] = [schema[name].coerce(value.strip()) for value in values.split(",") if value.strip()]
        except ValueError as exc:
            raise BacktestError(f"--grid {name}: {exc}") from None
    return grid


def _random_sets(schema: dict[str, Param], fixed: dict, grid: dict, count: int, seed: int) -> list[dict]:
    """`count` draws: grid values where given, else uniform within the schema's min..max
    (ints whole, floats to 4 places), bools either way; text params keep their value."""
    if not 1 <= count <= MAX_PARAM_SETS:
        raise BacktestError(f"--random must be between 1 and {MAX_PARAM_SETS}, got {count}")
    rng = np.random.default_rng(seed)
    free = [p for name, p in schema.items() if name not in fixed and (name in grid or p.type in (int, float, bool))]
    sets = []
    for _ in range(count):
        drawn = dict(fixed)
        for param in free:
            drawn[param.name] = _draw(rng, param, grid.get(param.name))
        sets.append(drawn)
    return sets


def _draw(rng: np.random.Generator, param: Param, choices: list | None):
    if choices:
        return choices[int(rng.integers(len(choices)))]
    if param.type is bool:
        return bool(rng.integers(2))
    low = param.min if param.min is not None else param.default / 2
    high = param.max if param.max is not None else param.default * 2
    if param.type is int:
        return int(rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1))
    return round(float(rng.uniform(low, high)), 4)


# --- Running -------------------------------------------------------------------------------


def _split(full: dict[str, Candles], ratio: float) -> tuple[int, dict[str, Candles], dict[str, Candles]]:
    """One split time for all markets: `ratio` of the whole span is train, the rest test."""
    first = min(int(c.time[0]) for c in full.values())
    last = max(int(c.time[-1]) for c in full.values())
    split_ms = first + int((last - first) * ratio)
    train, test = {}, {}
    for symbol, candles in full.items():
        cut = int(np.searchsorted(candles.time, split_ms))
        if min(cut, len(candles) - cut) < MIN_PART_CANDLES:
            raise BacktestError(f"{symbol}: too few candles ({len(candles)}) to split into train and test parts")
        train[symbol], test[symbol] = candles_slice(candles, 0, cut), candles_slice(candles, cut, None)
    return split_ms, train, test


def _run_parts(plan, full, train, test, param_sets, processes, progress) -> list[tuple[dict, dict]]:
    """(train metrics, test metrics) per parameter set, in order. Signals are computed on the
    whole history then cut to each part, so the test part starts with a full warm-up."""
    segments = {}
    for symbol in full:
        for part, lo in ((train, 0), (test, len(train[symbol]))):
            segments[id(part[symbol])] = (full[symbol], lo, lo + len(part[symbol]))
    kind = plan.kind

    def make_signals(segment: Candles, params: dict):
        history, lo, hi = segments[id(segment)]
        strategy = strategy_get(kind)(**params)
        for timeframe in strategy.informative_timeframes():
            history.informative[timeframe] = candles_resample(history, timeframe)
        return signals_slice(strategy.signals(history), lo, hi)

    batch = max(processes, 1) * 4
    results = []
    with tqdm(
        total=len(param_sets),
        desc="sweep",
        unit="set",
        delay=PROGRESS_DELAY,
        disable=None if progress is None else not progress,
        leave=False,
    ) as bar:
        for start in range(0, len(param_sets), batch):
            chunk = param_sets[start : start + batch]
            try:
                trained = sweep_run(
                    candles=train, make_signals=make_signals, param_sets=chunk, config=plan.config, processes=processes
                )
                tested = sweep_run(
                    candles=test, make_signals=make_signals, param_sets=chunk, config=plan.config, processes=processes
                )
            except ValueError as exc:
                raise BacktestError(f"{kind}: {exc}") from None
            results += [(a.metrics, b.metrics) for a, b in zip(trained, tested)]
            bar.update(len(chunk))
    return results


def _rank_key(metrics: dict, key: str, higher_better: bool):
    value = metrics.get(key)
    if value is None:
        return (1, 0.0)  # undefined ranks last
    return (0, -value if higher_better else value)


def _store(plan, request, full, split_ms, param_sets, results, owner) -> list[BacktestRun]:
    key, higher = SWEEP_METRICS[request.metric]
    order = sorted(range(len(param_sets)), key=lambda i: _rank_key(results[i][0], key, higher))
    sweep_id, digest, version = uuid.uuid4(), data_hash(full), code_version()
    first, last = min(int(c.time[0]) for c in full.values()), max(int(c.time[-1]) for c in full.values())
    settings = {
        **plan.settings,
        "sweep": {
            "train_ratio": request.train_ratio,
            "grid": request.grid,
            "random": request.random,
            "seed": request.seed,
            "metric": request.metric,
        },
    }
    rows = [
        BacktestRun(
            strategy=plan.strategy,
            kind=plan.kind,
            params=param_sets[i],
            symbols=plan.symbols,
            timeframe=plan.timeframe,
            data_start=_moment(first),
            data_end=_moment(last),
            candle_count=sum(len(c) for c in full.values()),
            initial_balance=plan.settings["initial_balance"],
            settings=settings,
            data_hash=digest,
            code_version=version,
            metrics=results[i][0],
            test_metrics=results[i][1],
            sweep_id=sweep_id,
            sweep_metric=key,
            split_at=_moment(split_ms),
            is_best=rank == 0,
            owner=owner,
        )
        for rank, i in enumerate(order)
    ]
    with transaction.atomic():
        return BacktestRun.objects.bulk_create(rows)


# --- Files ---------------------------------------------------------------------------------


def sweep_files_write(outcome: SweepOutcome, request: SweepRequest, folder: str | Path) -> dict[str, Path]:
    """The three files of a backtest for the best set, over the whole span (train then test):
    report.html and trades.csv of that run; metrics.json with its figures, the stored train and
    test figures of the best set and those of every set. The best row points to the report."""
    best = outcome.best
    plan = backtest_plan(request.backtest)
    plan = replace(plan, params=best.params, engine=engine_strategy_build(plan.kind, best.params))
    data = market_data_load(plan)
    result = backtest_result(plan, data)
    run = backtest_run_build(
        plan,
        data,
        result,
        sweep_id=best.sweep_id,
        sweep_metric=best.sweep_metric,
        split_at=best.split_at,
        test_metrics=best.test_metrics,
        is_best=True,
    )
    run.pk, run.created_at = best.pk, timezone.now()
    sweep = {
        "id": str(best.sweep_id),
        "metric": request.metric,
        "split_at": best.split_at.isoformat(),
        "best_run": best.pk,
        "train_metrics": best.metrics,
        "test_metrics": best.test_metrics,
        "invalid_sets": outcome.invalid_sets,
        "sets": [
            {"backtest_run": r.pk, "params": r.params, "train": _headline(r.metrics), "test": _headline(r.test_metrics)}
            for r in outcome.runs
        ],
    }
    files = backtest_files_write(run=run, plan=plan, data=data, result=result, folder=Path(folder), extra={"sweep": sweep})
    BacktestRun.objects.filter(pk=best.pk).update(report_path=str(files["report"].resolve()))
    return files


def _headline(metrics: dict | None) -> dict:
    keys = {key for key, _ in SWEEP_METRICS.values()} | {"trades"}
    return {key: value for key, value in (metrics or {}).items() if key in keys}


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
