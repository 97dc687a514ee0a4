"""Reads for backtests: markets by symbol, the stored range, the runs a user may see."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import accounts_visible_to
from apps.markets.models import Candle, Market
from apps.strategies.models import BacktestRun


class BacktestError(ValueError):
    """Input a trader must fix: bad options, missing data (the message is one line)."""


def market_by_symbol(*, symbol: str, exchange: str | None = None) -> Market:
    markets = Market.objects.select_related("exchange").filter(symbol=symbol)
    if exchange:
        markets = markets.filter(exchange__code=exchange)
    found = list(markets[:2])
    if not found:
        where = f" on exchange {exchange!r}" if exchange else ""
        known = ", ".join(sorted(set(Market.objects.values_list("symbol", flat=True)))) or "none"
        raise BacktestError(f"market {symbol!r}{where} is not in the database (markets: {known})")
    if len(found) > 1:
        codes = ", ".join(sorted(Market.objects.filter(symbol=symbol).values_list("exchange__code", flat=True)))
        raise BacktestError(f"{symbol} is listed on several exchanges ({codes}): choose one with --exchange")
    return found[0]


def candles_range(*, market: Market, timeframe: str) -> tuple[datetime, datetime] | None:
    """Open times of the first and last stored candle, or None when there is none."""
    rows = Candle.objects.filter(market=market, timeframe=timeframe)
    first = rows.order_by("open_time").values_list("open_time", flat=True).first()
    if first is None:
        return None
    return first, rows.order_by("-open_time").values_list("open_time", flat=True).first()


def backtest_runs_visible_to(*, user) -> QuerySet[BacktestRun]:
    """A run is its owner's and, for a configured strategy, its account members'; a run of no
    strategy (research from the command line) is also the administrators'. Superusers see all."""
    runs = BacktestRun.objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return runs.none()
    if user.is_superuser:
        return runs
    scope = Q(owner=user) | Q(strategy__account__in=accounts_visible_to(user=user).values("pk"))
    if user_has_role(user, Role.ADMIN):
        scope |= Q(strategy__isnull=True)
    return runs.filter(scope)


def backtest_jobs_visible_to(*, user) -> QuerySet:
    """As the runs: the owner's jobs and those of a strategy on the user's accounts; superusers all."""
    from apps.strategies.models import BacktestJob

    jobs = BacktestJob.objects.select_related("result", "strategy")
    if user is None or not user.is_authenticated or not user.is_active:
        return jobs.none()
    if user.is_superuser:
        return jobs
    return jobs.filter(Q(owner=user) | Q(strategy__account__in=accounts_visible_to(user=user).values("pk")))
