"""Reads of the promotion and the daily review for the pages and the API (callers check access:
the strategy they pass is one the reader may see); the studies a user may see and each one's
progress (these check access themselves)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import optuna
from django.db.models import Q, QuerySet
from optuna.trial import TrialState
from sqlalchemy import bindparam, text

from apps.common.events import STUDIES, STUDIES_DESK, STUDIES_OWN
from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import accounts_visible_to
from apps.research.models import StrategyReview, Study
from apps.research.promotion import NEXT_STAGE, RuleResult, promotion_rules
from apps.research.space import OBJECTIVES
from apps.research.storage import study_storage
from apps.research.studies import trial_released
from apps.strategies.models import BacktestRun, Strategy


@dataclass(frozen=True)
class PromotionView:
    stage: str
    next_stage: str | None  # None: live, the last stage
    rules: list[RuleResult] = field(default_factory=list)  # what a promotion would check now
    review: StrategyReview | None = None  # the newest daily review row

    @property
    def ready(self) -> bool:
        return self.next_stage is not None and all(rule.passed for rule in self.rules)


def strategy_promotion_view(strategy: Strategy) -> PromotionView:
    return PromotionView(
        stage=strategy.stage,
        next_stage=NEXT_STAGE.get(strategy.stage),
        rules=promotion_rules(strategy),
        review=StrategyReview.objects.filter(strategy=strategy).order_by("-day").first(),
    )


# --- Studies: the list and one study's progress --------------------------------------------------

STUDIES_SHOWN = 100
TRIALS_SHOWN = 100
# The figures set side by side (train | test) for the best trial: (metric, label, decimals shown)
SIDE_BY_SIDE = (
    ("total_return_pct", "Total return %", 2),
    ("max_drawdown_pct", "Max drawdown %", 2),
    ("sharpe", "Sharpe", 2),
    ("sortino", "Sortino", 2),
    ("calmar", "Calmar", 2),
    ("profit_factor", "Profit factor", 2),
    ("win_rate_pct", "Win rate %", 1),
    ("trades", "Trades", 0),
    ("fees", "Fees", 2),
    ("final_equity", "Final equity", 2),
)
_TRIAL_COUNTS = text(
    "SELECT s.study_name, t.state, COUNT(*), MAX(v.value), MIN(v.value), MIN(t.datetime_start), MAX(t.datetime_complete) "
    "FROM studies s JOIN trials t ON t.study_id = s.study_id "
    "LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0 "
    "WHERE s.study_name IN :names GROUP BY s.study_name, t.state"
).bindparams(bindparam("names", expanding=True))


def studies_visible_to(*, user) -> QuerySet[Study]:
    """As backtest runs: a study is its owner's and, for a configured strategy, its account
    members'; a study of an engine kind alone (research from the command line) is also the
    administrators'. Superusers see all."""
    found = Study.objects.select_related("strategy__account", "owner")
    if user is None or not user.is_authenticated or not user.is_active:
        return found.none()
    if user.is_superuser:
        return found
    scope = Q(owner=user) | Q(strategy__account__in=accounts_visible_to(user=user).values("pk"))
    if user_has_role(user, Role.ADMIN):
        scope |= Q(strategy__isnull=True)
    return found.filter(scope)


@dataclass(frozen=True)
class StudyRow:
    """A study with its trials counted (Optuna's states: complete, pruned, running, fail)."""

    study: Study
    complete: int = 0
    pruned: int = 0
    running: int = 0
    failed: int = 0
    best: float | None = None  # the first objective's best value among complete trials
    started: datetime | None = None  # the first trial's start, UTC
    ended: datetime | None = None  # the last trial's end, UTC

    @property
    def finished(self) -> int:
        """Trials that count toward the study's total (a failed one is replaced)."""
        return self.complete + self.pruned

    @property
    def total(self) -> int:
        return self.study.trials

    @property
    def percent(self) -> int:
        return min(100, self.finished * 100 // max(self.total, 1))

    @property
    def state(self) -> str:
        if self.study.status == Study.Status.FINISHED:
            return "finished"
        return "running" if self.running or self.finished or self.failed else "waiting"

    @property
    def objective_names(self) -> tuple[str, ...]:
        return OBJECTIVES[self.study.objective][0]

    @property
    def multi(self) -> bool:
        return len(self.objective_names) > 1

    @property
    def strategy_name(self) -> str:
        return self.study.strategy.name if self.study.strategy_id else self.study.kind


def _maximised(study: Study) -> bool:
    return OBJECTIVES[study.objective][1][0] == "maximize"


def _utc(naive_utc: datetime | None) -> datetime | None:
    return None if naive_utc is None else naive_utc.replace(tzinfo=UTC)


def study_rows(studies: list[Study]) -> list[StudyRow]:
    """The studies with their trial counts, in one query on Optuna's tables."""
    if not studies:
        return []
    counted: dict[str, dict] = {study.optuna_name: {} for study in studies}
    with study_storage(on_stale=trial_released).engine.connect() as connection:
        rows = connection.execute(_TRIAL_COUNTS, {"names": list(counted)}).all()
    for name, state, count, high, low, started, ended in rows:
        counted[name][str(getattr(state, "name", state)).upper()] = (count, high, low, _utc(started), _utc(ended))
    return [_row(study, counted[study.optuna_name]) for study in studies]


def _row(study: Study, by_state: dict) -> StudyRow:
    def count(state: str) -> int:
        return by_state[state][0] if state in by_state else 0

    complete = by_state.get("COMPLETE")
    best = None if complete is None else (complete[1] if _maximised(study) else complete[2])
    starts = [figures[3] for figures in by_state.values() if figures[3]]
    ends = [figures[4] for figures in by_state.values() if figures[4]]
    return StudyRow(
        study=study,
        complete=count("COMPLETE"),
        pruned=count("PRUNED"),
        running=count("RUNNING"),
        failed=count("FAIL"),
        best=best,
        started=min(starts, default=None),
        ended=max(ends, default=None) if study.status == Study.Status.FINISHED else None,
    )


def studies_overview(*, user, limit: int = STUDIES_SHOWN) -> list[StudyRow]:
    """The newest studies the user may see, with their progress."""
    return study_rows(list(studies_visible_to(user=user)[:limit]))


def study_topics(study: Study) -> list[str]:
    """The topics the study's events go to (studies._announce): the caller keeps those the
    reader may subscribe to."""
    topics = [STUDIES.name(account=study.strategy.account_id) if study.strategy_id else STUDIES_DESK.name()]
    if study.owner_id:
        topics.append(STUDIES_OWN.name(user=study.owner_id))
    return topics


def studies_topics_for(*, user, rows: list[StudyRow]) -> list[str]:
    """The studies topics a reader of the list hears new trials on: the accounts of the studies
    listed (a page holds at most consumers.MAX_TOPICS topics), the user's own, and the
    administrators' for an administrator. A study on another account shows at the next refresh."""
    accounts = sorted({row.study.strategy.account_id for row in rows if row.study.strategy_id})
    topics = [STUDIES.name(account=pk) for pk in accounts]
    if user_has_role(user, Role.ADMIN):
        topics.append(STUDIES_DESK.name())
    return [*topics, STUDIES_OWN.name(user=user.pk)]


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # complete, pruned, running, fail, waiting
    values: list[float] | None
    params: dict
    reason: str
    started: datetime | None
    ended: datetime | None
    run: BacktestRun | None  # its train (metrics) and test (test_metrics) figures

    @property
    def train(self) -> dict:
        return self.run.metrics if self.run else {}

    @property
    def test(self) -> dict:
        return self.run.test_metrics if self.run else {}


@dataclass(frozen=True)
class StudyDetail:
    row: StudyRow
    trials: list[TrialRow]  # newest first, at most TRIALS_SHOWN
    best: list[TrialRow]  # the best trial (every Pareto-optimal one of a multi-objective study)
    side_by_side: list[tuple[str, object, object, int]]  # (label, train, test, decimals) of the best trial
    curve: list[tuple[int, float]]  # (trial number, best first objective so far) over complete trials
    direction: str  # of the first objective: maximize / minimize


def study_detail(*, user, study_id: int) -> StudyDetail | None:
    """One study the user may see: its progress, its newest trials with their train and test
    figures, its best trial side by side, the best-so-far curve. None: not theirs (or none)."""
    study = studies_visible_to(user=user).filter(pk=study_id).first()
    if study is None:
        return None
    optuna_study = optuna.load_study(study_name=study.optuna_name, storage=study_storage(on_stale=trial_released))
    trials = optuna_study.get_trials(deepcopy=False)
    row = _row_of_trials(study, trials)
    complete = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.number)
    best_numbers = [t.number for t in _best_of(optuna_study, complete)]
    newest = sorted(trials, key=lambda t: t.number, reverse=True)[:TRIALS_SHOWN]
    wanted = {t.number for t in newest} | set(best_numbers)
    runs = {
        run.settings["study"]["trial"]: run
        for run in BacktestRun.objects.filter(sweep_id=study.uuid, settings__study__trial__in=sorted(wanted)).only(
            "id", "params", "settings", "metrics", "test_metrics", "is_best"
        )
    }
    by_number = {t.number: t for t in trials}
    best = [_trial_row(by_number[number], runs.get(number)) for number in best_numbers]
    return StudyDetail(
        row=row,
        trials=[_trial_row(t, runs.get(t.number)) for t in newest],
        best=best,
        side_by_side=[(label, best[0].train.get(key), best[0].test.get(key), digits) for key, label, digits in SIDE_BY_SIDE]
        if best
        else [],
        curve=_best_so_far(complete, maximise=_maximised(study)),
        direction=OBJECTIVES[study.objective][1][0],
    )


def _row_of_trials(study: Study, trials) -> StudyRow:
    count = {state: sum(t.state == state for t in trials) for state in TrialState}
    values = [t.values[0] for t in trials if t.state == TrialState.COMPLETE and t.values]
    starts = [_local_to_utc(t.datetime_start) for t in trials if t.datetime_start]
    ends = [_local_to_utc(t.datetime_complete) for t in trials if t.datetime_complete]
    return StudyRow(
        study=study,
        complete=count[TrialState.COMPLETE],
        pruned=count[TrialState.PRUNED],
        running=count[TrialState.RUNNING],
        failed=count[TrialState.FAIL],
        best=(max(values) if _maximised(study) else min(values)) if values else None,
        started=min(starts, default=None),
        ended=max(ends, default=None) if study.status == Study.Status.FINISHED else None,
    )


def _local_to_utc(naive_local: datetime) -> datetime:
    """Optuna hands trial times as naive local time."""
    return naive_local.astimezone(UTC)


def _best_of(optuna_study: optuna.Study, complete) -> list:
    if not complete:
        return []
    return optuna_study.best_trials if len(optuna_study.directions) > 1 else [optuna_study.best_trial]


def _trial_row(trial, run: BacktestRun | None) -> TrialRow:
    return TrialRow(
        number=trial.number,
        state=trial.state.name.lower(),
        values=list(trial.values) if trial.values else None,
        params=dict(trial.params),
        reason=trial.user_attrs.get("reason", ""),
        started=_local_to_utc(trial.datetime_start) if trial.datetime_start else None,
        ended=_local_to_utc(trial.datetime_complete) if trial.datetime_complete else None,
        run=run,
    )


def _best_so_far(complete, *, maximise: bool) -> list[tuple[int, float]]:
    curve, best = [], None
    for trial in complete:
        value = trial.values[0]
        if best is None or (value > best if maximise else value < best):
            best = value
        curve.append((trial.number, best))
    return curve
