"""Reads for goals: which goals apply to which accounts, and the figures their progress needs
(equity now or at a past moment, realized P&L), from apps.trading. Decimal throughout."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, Sum

from apps.exchanges.models import ExchangeAccount
from apps.goals.models import Goal
from apps.trading.models import PortfolioSnapshot, Position
from apps.trading.selectors import account_equity

ZERO = Decimal(0)
QUOTE = "USDT"  # the desk values accounts in USDT (as its portfolio snapshots do)


@dataclass(frozen=True)
class Figures:
    """What a goal's progress is computed from, over its accounts."""

    equity: Decimal
    month_start_equity: Decimal
    month_realized: Decimal  # P&L realized since the month started, fees included


def goals_active() -> list[Goal]:
    return list(Goal.objects.filter(active=True).select_related("account").order_by("pk"))


def goal_account_ids(goal: Goal) -> list[int]:
    """The goal's account, or every active account for a goal set for all accounts."""
    if goal.account_id:
        return [goal.account_id]
    return list(ExchangeAccount.objects.filter(active=True).order_by("pk").values_list("pk", flat=True))


def goals_for_account(*, account_id: int) -> list[Goal]:
    """The active goals that steer the account: its own and those set for all accounts."""
    return list(Goal.objects.filter(Q(account_id=account_id) | Q(account__isnull=True), active=True).order_by("pk"))


def accounts_with_goals() -> list[int]:
    """Accounts an active goal steers (every active account when one is set for all)."""
    if Goal.objects.filter(active=True, account__isnull=True).exists():
        return list(ExchangeAccount.objects.filter(active=True).order_by("pk").values_list("pk", flat=True))
    return sorted(set(Goal.objects.filter(active=True).values_list("account_id", flat=True)))


def _snapshot_at(account_id: int, when: datetime) -> PortfolioSnapshot | None:
    """The last snapshot taken at or before `when`, else the first after it (an account that
    started later)."""
    snapshots = PortfolioSnapshot.objects.filter(account_id=account_id)
    return (
        snapshots.filter(taken_at__lte=when).order_by("-taken_at").first()
        or snapshots.filter(taken_at__gt=when).order_by("taken_at").first()
    )


def goal_figures(*, account_ids: list[int], month_start: datetime, at: datetime | None = None) -> Figures:
    """Equity and realized P&L now (at=None) or as the snapshots recorded them at `at`, and their
    values when the month started (00:00 UTC on day 1)."""
    equity = start_equity = month_realized = ZERO
    accounts = {account.pk: account for account in ExchangeAccount.objects.filter(pk__in=account_ids)}
    for account_id in account_ids:
        start = _snapshot_at(account_id, month_start)
        if start is not None and at is not None and start.taken_at > max(at, month_start):
            start = None  # no snapshot yet at that moment
        start_realized = start.realized_pnl if start else ZERO
        start_equity += start.equity if start else ZERO
        if at is None:
            equity += account_equity(account=accounts[account_id], quote=QUOTE)
            realized = Position.objects.filter(account_id=account_id).aggregate(total=Sum("realized_pnl"))["total"] or ZERO
        else:
            then = PortfolioSnapshot.objects.filter(account_id=account_id, taken_at__lte=at).order_by("-taken_at").first()
            equity += then.equity if then else ZERO
            realized = then.realized_pnl if then else start_realized
        month_realized += realized - start_realized
    return Figures(equity=equity, month_start_equity=start_equity, month_realized=month_realized)
