"""Walk-forward: one study per fold (optimised on its train window, judged on the next test
window), queued together on the `research` queue, and the report across folds: the
out-of-sample equity stitched, parameter stability, walk-forward efficiency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from optuna.trial import TrialState

from apps.common.errors import Conflict, Invalid, NotFound
from apps.engine.timeframes import timeframe_ms
from apps.engine.walkforward import (
    DAY_MS,
    WalkForwardError,
    equity_stitched,
    parameter_stability,
    walk_forward_efficiency,
    walk_forward_folds,
)
from apps.research.models import Study
from apps.research.studies import StudyRequest, _optuna_study, span_result, study_create
from apps.strategies.backtests.plan import backtest_plan, time_parse
from apps.strategies.backtests.selectors import BacktestError, candles_range

MAX_FOLDS = 50


@dataclass
class WalkForwardRequest:
    study: StudyRequest  # trials, objective, space...; its train/test are set per fold
    folds: int
    train_days: float
    test_days: float
    anchored: bool = False
    start: str | None = None  # the span the folds cover (default: every stored candle)
    end: str | None = None


@dataclass
class FoldReport:
    fold: int
    study: int
    train: tuple[str, str]
    test: tuple[str, str]
    params: dict | None  # None: no trial of the fold scored
    train_metrics: dict
    test_metrics: dict


@dataclass
class WalkForwardReport:
    walk_forward: uuid.UUID
    folds: list[FoldReport]
    time: list[int]  # the stitched out-of-sample equity curve
    equity: list[float]
    initial_balance: float
    final_equity: float
    stability: dict
    efficiency: float | None


def walk_forward_create(request: WalkForwardRequest, *, owner=None) -> list[Study]:
    """The fold studies, each checked like any study; nothing queued yet."""
    errors = {}
    if not 1 <= request.folds <= MAX_FOLDS:
        errors["walk_forward"] = [f"must be between 1 and {MAX_FOLDS} folds, got {request.folds}"]
    for name in ("train_days", "test_days"):
        if not getattr(request, name) > 0:
            errors[name] = [f"must be a positive number of days, got {getattr(request, name)}"]
    if errors:
        raise Invalid.from_fields(errors)
    start_ms, end_ms = _span(request)
    try:
        folds = walk_forward_folds(
            start_ms,
            end_ms,
            folds=request.folds,
            train_ms=round(request.train_days * DAY_MS),
            test_ms=round(request.test_days * DAY_MS),
            anchored=request.anchored,
        )
    except WalkForwardError as exc:
        raise Invalid.from_fields({"walk_forward": str(exc)}) from None
    group = uuid.uuid4()
    return [
        study_create(
            replace(
                request.study,
                train=f"{_iso(fold.train_start)}..{_iso(fold.train_end)}",
                test=f"{_iso(fold.test_start)}..{_iso(fold.test_end)}",
            ),
            owner=owner,
            walk_forward=group,
            fold=fold.index,
        )
        for fold in folds
    ]


def _span(request: WalkForwardRequest) -> tuple[int, int]:
    try:
        plan = backtest_plan(request.study.backtest)
        start, end = time_parse(request.start, "--start"), time_parse(request.end, "--end")
    except BacktestError as exc:
        raise Invalid.from_fields({"strategy": str(exc)}) from None
    stored = candles_range(market=plan.markets[0], timeframe=plan.timeframe)
    if stored is None:
        raise Invalid.from_fields({"symbol": f"no {plan.markets[0].symbol} {plan.timeframe} candles are stored"})
    first = start or stored[0]
    last = end or stored[1]
    return _ms(first), _ms(last) + (0 if end else timeframe_ms(plan.timeframe))  # through the last stored candle


def walk_forward_studies(group) -> list[Study]:
    studies = list(Study.objects.filter(walk_forward=group).order_by("fold"))
    if not studies:
        raise NotFound(f"there is no walk-forward {group}")
    return studies


def walk_forward_report(group) -> WalkForwardReport:
    """Across the finished folds: the best trial of each, backtested again on its test window
    for its equity curve, and the curves stitched."""
    folds, curves, initial = [], [], 0.0
    for study in walk_forward_studies(group):
        best = _best_trial(_optuna_study(study))
        train_metrics, test_metrics = {}, {}
        if best is not None:  # a fold where no trial scored trades nothing out of sample
            _, train = span_result(study, best.params, study.train_start, study.train_end)
            _, test = span_result(study, best.params, study.test_start, study.test_end)
            initial, train_metrics, test_metrics = test.initial_balance, train.metrics, test.metrics
            curves.append((test.time, test.equity))
        folds.append(
            FoldReport(
                study.fold,
                study.pk,
                (study.train_start.isoformat(), study.train_end.isoformat()),
                (study.test_start.isoformat(), study.test_end.isoformat()),
                dict(best.params) if best else None,
                train_metrics,
                test_metrics,
            )
        )
    scored = [f for f in folds if f.params is not None]
    if not scored:
        raise Conflict("no fold has a trial with a defined objective: widen the windows or choose another objective")
    time, equity = equity_stitched(curves, initial)
    efficiency = walk_forward_efficiency(
        [(f.train_metrics["total_return_pct"], f.train_metrics["days"]) for f in scored],
        [(f.test_metrics["total_return_pct"], f.test_metrics["days"]) for f in scored],
    )
    return WalkForwardReport(
        group,
        folds,
        time.tolist(),
        equity.tolist(),
        initial,
        float(equity[-1]),
        parameter_stability([f.params for f in scored]),
        efficiency,
    )


def _best_trial(optuna_study):
    if not optuna_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return optuna_study.best_trials[0] if len(optuna_study.directions) > 1 else optuna_study.best_trial


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
