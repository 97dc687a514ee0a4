"""Research jobs on the `research` queue: a study runs as a stream of trial tasks."""

from celery import shared_task

from apps.research import studies
from apps.research.review import strategies_review


@shared_task(
    name="apps.research.tasks.study_trial", acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660
)
def study_trial(study_id: int) -> str:
    """One trial of the study, then the next task: the study goes on on whichever worker is free."""
    outcome = studies.study_trial_step(study_id)
    if outcome == studies.RAN:
        study_trial.apply_async(args=(study_id,))
    elif outcome == studies.WAITING:
        study_trial.apply_async(args=(study_id,), countdown=studies.WAIT_SECONDS)
    return outcome


@shared_task(name="apps.research.tasks.strategies_daily_review")
def strategies_daily_review() -> str:
    """Rank the running strategies, label the regime, pause those breaching their rules."""
    rows = strategies_review()
    paused = sum(1 for row in rows if row.action == "paused")
    return f"{len(rows)} strategies reviewed, {paused} paused"
