"""Builders for goal tests: a paper account worth 10,000 USDT whose month started at 10,000."""

from datetime import UTC, datetime
from decimal import Decimal

from apps.goals.models import Goal
from apps.trading.models import PortfolioSnapshot
from tests.trading.factories import account_make, fresh_market, strategy_make

# Day 20 of a 30-day month, noon: two thirds of the month gone, outside the first three days.
MID_JUNE = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
JUNE_1 = datetime(2025, 6, 1, tzinfo=UTC)


def month_started_at(account, equity: Decimal, *, realized: Decimal = Decimal(0), at: datetime = JUNE_1) -> PortfolioSnapshot:
    return PortfolioSnapshot.objects.create(
        account=account, taken_at=at, equity=equity, cash=equity, positions_value=0, realized_pnl=realized, unrealized_pnl=0
    )


def goal_make(*, account=None, kind: str = Goal.Kind.MONTHLY_RETURN, target="0.10", catch_up: bool = False, **fields) -> Goal:
    return Goal.objects.create(
        account=account, kind=kind, target=Decimal(target), active=True, catch_up_enabled=catch_up, **fields
    )


def desk(name: str, *, cash=Decimal("10000"), allocation=Decimal("1000")):
    """An account that has not moved since the month started (a 0 % month: behind pace)."""
    account = account_make(name=name, cash=cash)
    market = fresh_market()
    month_started_at(account, cash)
    return account, market, strategy_make(account=account, markets=[market], allocation=allocation)
