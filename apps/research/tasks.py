"""Research jobs on the `research` queue: a study runs as a stream of trial tasks."""

from celery import shared_task

from apps.research import generation, studies


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


@shared_task(
    name="apps.research.tasks.candidate_evaluate", acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660
)
def candidate_evaluate(candidate_id: int) -> str:
    """One generated candidate: bias checks and walk-forward backtests; the generation's last
    one breeds the next generation (or stores the survivors)."""
    return generation.candidate_step(candidate_id)


@shared_task(name="apps.research.tasks.strategies_generate_daily")
def strategies_generate_daily(account: int | None = None, symbols: list | None = None, **options) -> int | None:
    """The daily beat entry (installed disabled): a search with the entry's kwargs (account,
    symbols, and any SearchRequest field such as count, timeframe, days), queued on the workers."""
    search = generation.search_daily(account=account, symbols=symbols or [], options=options)
    return search.pk
