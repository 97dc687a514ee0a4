"""Reads for risk: the limits that apply and the kill switch state."""

from decimal import Decimal

from django.db.models import Q

from apps.engine.risk_rules import KillState, Limits, kill_state_combine
from apps.risk.models import KillSwitch, RiskLimits, SizingStance

DEFAULTS = {"max_price_deviation_pct": Decimal("0.5"), "max_orders_per_minute": 100, "max_consecutive_failures": 10}
_FIELDS = (
    "max_order_notional",
    "max_position_pct",
    "max_open_positions",
    "max_daily_loss_pct",
    "max_drawdown_pct",
    "max_price_deviation_pct",
    "max_orders_per_minute",
    "max_consecutive_failures",
)


def _rows(account_id, strategy) -> list[RiskLimits]:
    """The strategy's row first, then the account's (one query)."""
    scope = Q(account_id=account_id) if account_id is not None else Q(pk__in=[])
    if strategy is not None:
        scope |= Q(strategy_id=strategy.pk)
    return sorted(RiskLimits.objects.filter(scope), key=lambda row: row.strategy_id is None)


def _first_set(rows: list[RiskLimits], name: str):
    return next((getattr(row, name) for row in rows if getattr(row, name) is not None), DEFAULTS.get(name))


def limits_value(*, name: str, strategy=None, account_id=None):
    """The strategy's value, else the account's, else the default."""
    account_id = account_id or (strategy.account_id if strategy is not None else None)
    return _first_set(_rows(account_id, strategy), name)


def limits_for(*, account_id: int, strategy=None) -> Limits:
    return _limits(_rows(account_id, strategy))


def limits_for_many(*, account_id: int, strategies: list) -> dict[int | None, Limits]:
    """The limits of each strategy (and of the account alone, key None), in one query."""
    scope = Q(account_id=account_id) | Q(strategy_id__in=[strategy.pk for strategy in strategies])
    rows = list(RiskLimits.objects.filter(scope))
    account_rows = [row for row in rows if row.strategy_id is None]
    limits = {None: _limits(account_rows)}
    for strategy in strategies:
        limits[strategy.pk] = _limits([row for row in rows if row.strategy_id == strategy.pk] + account_rows)
    return limits


def _limits(rows: list[RiskLimits]) -> Limits:
    """From the strategy's row first, then the account's."""
    values = {name: _first_set(rows, name) for name in _FIELDS}
    account_rate = next((row.max_orders_per_minute for row in rows if row.account_id and row.max_orders_per_minute), None)
    return Limits(
        max_order_notional=values["max_order_notional"],
        max_position_pct=values["max_position_pct"],
        max_open_positions=values["max_open_positions"],
        max_daily_loss_pct=values["max_daily_loss_pct"],
        max_drawdown_pct=values["max_drawdown_pct"],
        max_price_deviation_pct=values["max_price_deviation_pct"],
        max_orders_per_minute_strategy=values["max_orders_per_minute"],
        max_orders_per_minute_account=account_rate or DEFAULTS["max_orders_per_minute"],
        max_signals_per_minute_strategy=values["max_orders_per_minute"],
    )


def kill_state(*, account_id: int | None) -> KillState:
    """The global and the account's switch, in one query."""
    scope = Q(account_id__isnull=True) | Q(account_id=account_id) if account_id is not None else Q(account_id__isnull=True)
    return kill_state_combine(*KillSwitch.objects.filter(scope).values_list("state", flat=True))


def sizing_stance(*, account_id: int) -> SizingStance | None:
    """The goal-aware sizing stance in force for the account (None: size as set)."""
    return SizingStance.objects.filter(account_id=account_id).first()
