"""Optuna studies of a strategy: created by `optimize --trials`, run trial by trial in Celery
tasks on the `research` queue by any number of workers, stored in the desk's database.

How a study survives a killed worker and still ends with exactly `trials` finished trials:
- A task claims a trial slot (a conditional UPDATE of Study.trials_claimed) before asking
  Optuna for a trial, so workers never run more trials than asked.
- A running trial writes a heartbeat; a trial silent for the grace period (its worker died)
  is failed by the next task that looks (Optuna's stale-trial check) and its slot released.
- Each task runs one trial and queues the next; a task that finds no free slot while trials
  are still running checks again later, and the last one marks the study finished.
- Each finished trial is a BacktestRun (train metrics, test metrics) written in the same
  step that tells Optuna; the runs of a failed trial are deleted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime

import optuna
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from optuna.trial import TrialState

from apps.common.errors import Invalid, NotFound
from apps.common.events import event_build, events_save
from apps.research import candle_cache
from apps.research.models import Study
from apps.research.space import (
    EXITS,
    OBJECTIVES,
    PRUNERS,
    SAMPLERS,
    dimension_from_json,
    objective_values,
    space_build,
    trial_suggest,
)
from apps.research.storage import study_storage
from apps.strategies.backtests.plan import BacktestRequest, backtest_plan, params_parse, time_parse
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.services import backtest_result, code_version, market_data_load
from apps.strategies.models import BacktestRun

logger = logging.getLogger(__name__)
MAX_TRIALS = 100_000
PRUNING_CHECKPOINTS = (0.25, 0.5, 0.75)  # shares of the train span reported to the pruner
WAIT_SECONDS = 2.0  # a task with no free slot looks again this much later
FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class StudyRequest:
    backtest: BacktestRequest  # strategy, markets, fees, fixed params and exits; no span
    train: str  # "start:end", UTC, end exclusive
    test: str
    trials: int = 100
    objective: str = "sharpe"
    sampler: str = "tpe"
    pruner: str = "none"
    space: list[str] = field(default_factory=list)  # name=low:high[:step] or name=a,b,c
    seed: int = 0


@dataclass
class StudyProgress:
    finished: int
    running: int
    failed: int
    trials: int
    status: str
    best: dict | None  # {"trial", "values", "params"} of the best finished trial


# --- Creating ------------------------------------------------------------------------------


def study_create(request: StudyRequest, *, owner=None, walk_forward=None, fold=None) -> Study:
    """Check everything a trader typed (every bad field at once), then the Study row and its
    Optuna study. Nothing is queued yet (study_start)."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if request.objective not in OBJECTIVES:
        bad("objective", f"{request.objective!r} is not one of {', '.join(OBJECTIVES)}")
    if request.sampler not in SAMPLERS:
        bad("sampler", f"{request.sampler!r} is not one of {', '.join(SAMPLERS)}")
    if request.pruner not in PRUNERS:
        bad("pruner", f"{request.pruner!r} is not one of {', '.join(PRUNERS)}")
    elif request.pruner != "none" and request.objective == "multi":
        bad("pruner", "a multi-objective study cannot prune (Optuna has no pruning for several objectives)")
    if not 1 <= request.trials <= MAX_TRIALS:
        bad("trials", f"must be between 1 and {MAX_TRIALS}, got {request.trials}")
    train = _span(request.train, "train", bad)
    test = _span(request.test, "test", bad)
    if train and test and test[0] < train[1]:
        bad("test", f"must start at or after the end of train ({train[1]:%Y-%m-%d %H:%M}): train and test never overlap")
    try:
        plan = backtest_plan(request.backtest)
    except BacktestError as exc:
        bad("strategy", str(exc))
        plan = None
    space = []
    if plan is not None:
        try:
            space = space_build(plan.kind, fixed=params_parse(request.backtest.params), ranges=request.space)
        except Invalid as exc:
            for name, messages in exc.fields.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise Invalid.from_fields(errors)
    stored_request = asdict(request.backtest) | {"start": None, "end": None, "strategy": plan.kind}
    study = Study.objects.create(
        kind=plan.kind,
        request=stored_request,
        space=[dimension.as_json() for dimension in space],
        symbols=plan.symbols,
        timeframe=plan.timeframe,
        train_start=train[0],
        train_end=train[1],
        test_start=test[0],
        test_end=test[1],
        objective=request.objective,
        sampler=request.sampler,
        pruner=request.pruner,
        seed=request.seed,
        trials=request.trials,
        owner=owner,
        strategy=plan.strategy,
        walk_forward=walk_forward,
        fold=fold,
    )
    optuna.create_study(
        storage=study_storage(on_stale=trial_released),
        study_name=study.optuna_name,
        directions=list(OBJECTIVES[request.objective][1]),
    )
    return study


def _span(text: str, name: str, bad) -> tuple[datetime, datetime] | None:
    text = (text or "").strip()
    start, sep, end = text.partition("..") if ".." in text else text.partition(":") if text.count(":") == 1 else ("", "", "")
    if not sep:
        bad(
            name,
            f"{text!r}: write it as start..end, e.g. 2024-01-01..2024-03-01 or 2024-01-01T06:00..2024-02-01 (UTC, end exclusive)",
        )
        return None
    try:
        first, last = time_parse(start.strip(), f"--{name} start"), time_parse(end.strip(), f"--{name} end")
    except BacktestError as exc:
        bad(name, str(exc))
        return None
    if not first < last:
        bad(name, f"start ({first:%Y-%m-%d %H:%M}) must be before end ({last:%Y-%m-%d %H:%M})")
        return None
    return first, last


# --- Running -------------------------------------------------------------------------------


def study_start(study: Study, *, tasks: int = 2) -> None:
    """Queue `tasks` trial tasks on the `research` queue (each queues its successor). Also the
    way to resume a study after a crash: tasks are only ever extra, never harmful."""
    if study.status == Study.Status.FINISHED:
        return
    for _ in range(max(tasks, 1)):
        current_app.tasks["apps.research.tasks.study_trial"].apply_async(args=(study.pk,))


def study_get(study_id: int) -> Study:
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        raise NotFound(f"there is no study #{study_id}")
    return study


RAN, WAITING, DONE = "ran", "waiting", "done"


def study_trial_step(study_id: int) -> str:
    """One step of a study in a worker: fail trials whose worker died, claim a slot and run
    one trial (RAN); or, with no slot free, WAITING while others still run, DONE when all are."""
    study = Study.objects.filter(pk=study_id).select_related("strategy").first()
    if study is None or study.status == Study.Status.FINISHED:
        return DONE
    optuna_study = _optuna_study(study)
    # Optuna fails every running trial whose heartbeat stopped; this process's share comes
    # back through the storage's callback (trial_released).
    optuna.storages.fail_stale_trials(optuna_study)
    slot = _slot_claim(study)
    if slot is None:
        if _slots_in_use(study, optuna_study):
            return WAITING
        _study_finish(study)
        return DONE
    optuna_study.sampler = _sampler(study, slot)
    _trial_run(study, optuna_study, slot)
    return RAN


def _slots_in_use(study: Study, optuna_study: optuna.Study) -> bool:
    """Whether every slot is taken for good. Trials still running: wait for them. Fewer trials
    used than slots claimed, with nothing started for a grace period: a worker died between
    claiming and asking (or before releasing a stale trial), so the claims are set back to the
    trials that count and the study goes on."""
    trials = optuna_study.get_trials(deepcopy=False)
    if any(t.state == TrialState.RUNNING for t in trials):
        return True
    used = sum(t.state in FINISHED_STATES or _failed_by_error(t) for t in trials)
    if used >= study.trials:
        return False
    moments = [t.datetime_complete or t.datetime_start for t in trials if t.datetime_start]
    if moments and (datetime.now() - max(moments)).total_seconds() < settings.RESEARCH_TRIAL_GRACE_SECONDS:
        return True  # a claim may be on its way to Optuna right now
    Study.objects.filter(pk=study.pk, trials_claimed__gt=used).update(trials_claimed=used)
    return True


def _failed_by_error(trial) -> bool:
    return trial.state == TrialState.FAIL and trial.user_attrs.get("reason", "").startswith("error")


def _slot_claim(study: Study) -> int | None:
    with transaction.atomic():
        claimed = Study.objects.filter(pk=study.pk, trials_claimed__lt=F("trials")).update(trials_claimed=F("trials_claimed") + 1)
        if not claimed:
            return None
        return Study.objects.values_list("trials_claimed", flat=True).get(pk=study.pk) - 1


def trial_released(optuna_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """A trial failed as stale: its slot is free again and its rows (if any) go."""
    uuid = optuna_study.study_name.removeprefix("tradedesk-")
    with transaction.atomic():
        study = Study.objects.filter(uuid=uuid).first()
        if study is None:
            return
        Study.objects.filter(pk=study.pk, trials_claimed__gt=0).update(trials_claimed=F("trials_claimed") - 1)
        BacktestRun.objects.filter(sweep_id=study.uuid, settings__study__trial=trial.number).delete()


def _optuna_study(study: Study, *, slot: int = 0) -> optuna.Study:
    return optuna.load_study(
        study_name=study.optuna_name,
        storage=study_storage(on_stale=trial_released),
        sampler=_sampler(study, slot),
        pruner=_pruner(study),
    )


def _sampler(study: Study, slot: int) -> optuna.samplers.BaseSampler:
    """Seeded per slot: every worker builds its own sampler, and one seed for all would make
    them all draw the same params."""
    seed = study.seed * 1_000_003 + slot
    if study.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if study.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(study: Study) -> optuna.pruners.BasePruner:
    if study.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def _trial_run(study: Study, optuna_study: optuna.Study, slot: int) -> None:
    trial = optuna_study.ask()
    trial.set_user_attr("slot", slot)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    try:
        with _Heartbeat(optuna_study, trial._trial_id):
            values = trial_suggest(trial, [dimension_from_json(d) for d in study.space])
            state, objective, run = _trial_evaluate(study, trial, values)
    except Exception as exc:  # a bug, not a refusal: failed once, its slot stays used (no retry loop)
        logger.exception("study %s trial %s failed", study.pk, trial.number)
        trial.set_user_attr("reason", f"error: {exc!r}")
        with transaction.atomic():
            optuna_study.tell(trial, state=TrialState.FAIL)
            _announce(study, "study.trial_finished", {"trial": trial.number, "state": "fail", "values": None})
        return
    with transaction.atomic():
        if run is not None:
            run.save()
        values = objective if state == TrialState.COMPLETE else None
        optuna_study.tell(trial, values, state=state)
        _announce(
            study,
            "study.trial_finished",
            {"trial": trial.number, "state": state.name.lower(), "values": list(values) if values else None},
        )


def _announce(study: Study, kind: str, payload: dict) -> None:
    """The study's event, for the pages of those who may see it (apps.research.selectors.
    studies_visible_to): its strategy's account, or the administrators; and its owner."""
    audiences = [{"account": study.strategy.account_id} if study.strategy_id else {}]
    if study.owner_id:
        audiences.append({"user": study.owner_id})
    events_save([event_build(kind, {"study": study.pk, **payload}, **values) for values in audiences])


class _Heartbeat:
    """Writes the trial's heartbeat while it runs (Optuna does this only inside study.optimize)."""

    def __init__(self, optuna_study: optuna.Study, trial_id: int):
        self.storage, self.trial_id = optuna_study._storage, trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        interval = self.storage.get_heartbeat_interval() or 5
        while not self.stop.wait(interval):
            self.storage.record_heartbeat(self.trial_id)

    def __enter__(self):
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# --- One trial -----------------------------------------------------------------------------


@dataclass
class TrialSettings:
    params: dict  # strategy params, as the engine validated them
    exits: dict  # stop_loss_pct/take_profit_pct/trailing_stop_pct in % (None: not set)


def trial_request(study: Study, values: dict, start: datetime, end: datetime) -> BacktestRequest:
    """The backtest a trial runs on one span: the study's request with the trial's values."""
    stored = dict(study.request)
    fixed = params_parse(stored.pop("params"))
    params = {**fixed, **{name: value for name, value in values.items() if name not in EXITS}}
    for name, option in EXITS.items():
        if name in values:
            stored[option] = f"{round(float(values[name]), 4)}"
    return BacktestRequest(
        **{**stored, "start": start.isoformat(), "end": end.isoformat()},
        params=[f"{name}={value}" for name, value in params.items()],
    )


def span_run(study: Study, values: dict, start: datetime, end: datetime):
    """(plan, market data, BacktestResult) of the trial's backtest on [start, end), on this
    process's cached candles: the same code path as `manage.py backtest --start --end`."""
    plan = backtest_plan(trial_request(study, values, start, end))
    data = market_data_load(plan, load=candle_cache.candles_cached)
    return plan, data, backtest_result(plan, data)


def span_result(study: Study, values: dict, start: datetime, end: datetime):
    """(plan, BacktestResult) of the trial's backtest on [start, end)."""
    plan, _, result = span_run(study, values, start, end)
    return plan, result


def span_backtest(study: Study, values: dict, start: datetime, end: datetime):
    """(plan, metrics) of the trial's backtest on [start, end)."""
    plan, result = span_result(study, values, start, end)
    return plan, result.metrics


def _trial_evaluate(study: Study, trial, values: dict):
    """(state, objective values, BacktestRun) of one trial; refusals and undefined objectives
    are PRUNED with the reason in the trial's user attrs."""
    try:
        if study.pruner != "none" and _pruned_on_the_way(study, trial, values):
            trial.set_user_attr("reason", "pruned: below the median of earlier trials at a checkpoint")
            return TrialState.PRUNED, None, None
        plan, train = span_backtest(study, values, study.train_start, study.train_end)
        _, test = span_backtest(study, values, study.test_start, study.test_end)
    except BacktestError as exc:  # e.g. fast >= slow: a combination the strategy refuses
        trial.set_user_attr("reason", str(exc))
        return TrialState.PRUNED, None, None
    objective, reason = objective_values(study.objective, train)
    state = TrialState.COMPLETE if objective is not None else TrialState.PRUNED
    if reason:
        trial.set_user_attr("reason", reason)
    return state, objective, _trial_run_row(study, trial, plan, train, test, objective, state)


def _pruned_on_the_way(study: Study, trial, values: dict) -> bool:
    span = study.train_end - study.train_start
    for step, share in enumerate(PRUNING_CHECKPOINTS):
        _, metrics = span_backtest(study, values, study.train_start, study.train_start + span * share)
        objective, _ = objective_values(study.objective, metrics)
        if objective is not None:
            trial.report(objective[0], step)
            if trial.should_prune():
                return True
    return False


def _trial_run_row(study, trial, plan, train, test, objective, state) -> BacktestRun:
    return BacktestRun(
        kind=study.kind,
        params=plan.params,
        symbols=study.symbols,
        timeframe=study.timeframe,
        data_start=study.train_start,
        data_end=study.test_end,
        candle_count=0,
        initial_balance=plan.settings["initial_balance"],
        settings={
            **plan.settings,
            "study": {
                "id": study.pk,
                "trial": trial.number,
                "state": state.name.lower(),
                "values": list(objective) if objective else None,
                "objective": study.objective,
                "train": [study.train_start.isoformat(), study.train_end.isoformat()],
                "test": [study.test_start.isoformat(), study.test_end.isoformat()],
            },
        },
        data_hash=candle_cache.span_hash(plan.markets, study.timeframe, study.train_start, study.test_end),
        code_version=code_version(),
        metrics=train,
        test_metrics=test,
        sweep_id=study.uuid,
        sweep_metric=study.objective,
        split_at=study.test_start,
        owner=study.owner,
    )


# --- Finishing and reading -----------------------------------------------------------------


def _study_finish(study: Study) -> None:
    """Once, by whichever task gets here first: the best trial's run (every Pareto-optimal one
    for "multi") is flagged, the study marked finished."""
    with transaction.atomic():
        if not Study.objects.filter(pk=study.pk, status=Study.Status.RUNNING).update(status=Study.Status.FINISHED):
            return
        _announce(study, "study.finished", {"status": "finished"})
        numbers = [trial.number for trial in _best_trials(_optuna_study(study))]
        runs = BacktestRun.objects.filter(sweep_id=study.uuid)
        runs.update(is_best=False)
        runs.filter(settings__study__trial__in=numbers).update(is_best=True)


def _best_trials(optuna_study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    if not optuna_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    return optuna_study.best_trials if len(optuna_study.directions) > 1 else [optuna_study.best_trial]


def study_progress(study: Study) -> StudyProgress:
    study.refresh_from_db()
    optuna_study = _optuna_study(study)
    trials = optuna_study.get_trials(deepcopy=False)
    count = {state: sum(t.state == state for t in trials) for state in TrialState}
    best = _best_trials(optuna_study)
    return StudyProgress(
        finished=count[TrialState.COMPLETE] + count[TrialState.PRUNED],
        running=count[TrialState.RUNNING],
        failed=count[TrialState.FAIL],
        trials=study.trials,
        status=study.status,
        best={"trial": best[0].number, "values": best[0].values, "params": best[0].params} if best else None,
    )


def study_runs(study: Study):
    """The study's BacktestRuns, best first then by trial number."""
    return BacktestRun.objects.filter(sweep_id=study.uuid).order_by("-is_best", "id")
