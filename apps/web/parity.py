"""The parity panel: a strategy's live fills beside what the backtest of the same period, on the
same stored candles, would have done, since its first live evaluation. The comparison is
research's (apps/research/live_vs_backtest.py, one code path with the nightly report and the
promotion rules' divergence); the page caches it until a newer evaluation or fill."""

from datetime import datetime

from django.core.cache import cache

from apps.research.live_vs_backtest import (  # noqa: F401 - the panel's vocabulary
    Comparison,
    Trade,
    backtest_trades,
    compare,
    comparison_since_live,
    live_trades,
    trades_pnl,
)
from apps.research.live_vs_backtest_report import reports_recent
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.trading.models import Fill

CACHE_SECONDS = 600


def strategy_parity_cached(*, strategy: Strategy) -> Comparison:
    """The page refreshes on every event: the comparison is computed again only when the
    strategy evaluated a newer candle or got a new fill."""
    newest = StrategyEvaluation.objects.filter(strategy=strategy).order_by("-candle_time").values_list("candle_time", flat=True)
    last_fill = Fill.objects.filter(order__strategy=strategy).order_by("-id").values_list("id", flat=True)
    key = f"parity:{strategy.pk}:{strategy.updated_at.timestamp()}:{newest.first()}:{last_fill.first()}"
    found = cache.get(key)
    if found is None:
        found = strategy_parity(strategy=strategy)
        cache.set(key, found, timeout=CACHE_SECONDS)
    return found


def strategy_parity(*, strategy: Strategy, now: datetime | None = None) -> Comparison:
    """From the strategy's first live evaluation (or signal) to now."""
    return comparison_since_live(strategy=strategy, now=now)


def daily_reports(*, strategy: Strategy, limit: int = 7):
    """The nightly live-vs-backtest reports of the strategy's last days, newest first."""
    return reports_recent(strategy=strategy, limit=limit)
