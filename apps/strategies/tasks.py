"""Research work on its own queue (`research`, tradedesk/celery.py): a long backtest never
delays an evaluation or an order. Thin: take the id, call the service."""

from celery import shared_task


@shared_task(ignore_result=True)
def backtest_job_run(job_id: int) -> None:
    from apps.strategies.backtests.jobs import backtest_job_execute

    backtest_job_execute(job_id=job_id)
