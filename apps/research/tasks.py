"""Research jobs on the `research` queue: a study runs as a stream of trial tasks; the nightly
live-vs-backtest reports, one task per running strategy."""

from datetime import date

from celery import shared_task

from apps.research import generation, studies
from apps.research import live_vs_backtest_report as reports
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


@shared_task(name="apps.research.tasks.live_vs_backtest_nightly")
def live_vs_backtest_nightly(day: str | None = None) -> int:
    """Beat, 00:15 UTC: yesterday's report for every running strategy, one task each."""
    day = day or reports.yesterday().isoformat()
    ids = reports.running_strategy_ids()
    for strategy_id in ids:
        live_vs_backtest_report.apply_async(args=(strategy_id, day))
    return len(ids)


@shared_task(name="apps.research.tasks.live_vs_backtest_report", acks_late=True, soft_time_limit=600, time_limit=660)
def live_vs_backtest_report(strategy_id: int, day: str) -> str:
    """One strategy's day compared and stored (a rerun replaces it; the alert is recorded once)."""
    report = reports.report_run(strategy_id=strategy_id, day=date.fromisoformat(day))
    return str(report)


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
