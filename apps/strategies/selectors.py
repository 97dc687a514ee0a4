"""Reads about strategies."""

from apps.strategies.models import Strategy


def strategies_running_on(*, market_id: int, timeframe: str) -> list[int]:
    """Ids of the running strategies that trade this market on this timeframe."""
    return list(
        Strategy.objects.filter(status=Strategy.Status.RUNNING, timeframe=timeframe, markets=market_id).values_list(
            "pk", flat=True
        )
    )
