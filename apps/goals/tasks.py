"""Goal work for beat. Thin: call one service."""

from celery import shared_task


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def goals_snapshot() -> dict:
    """Daily at 23:59 UTC: snapshot every active goal, then refresh the sizing stances."""
    from apps.goals.services import goals_snapshot as snapshot

    return snapshot()


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def sizing_stances_refresh() -> int:
    """Every few minutes: the pace moves with the clock and the equity."""
    from apps.goals.services import sizing_stances_refresh as refresh

    return refresh()
