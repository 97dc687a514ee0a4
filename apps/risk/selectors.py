"""Reads for risk: the limits that apply and the kill switch state."""

from decimal import Decimal

from apps.engine.risk_rules import KillState, Limits, kill_state_combine
from apps.risk.models import KillSwitch, RiskLimits

DEFAULTS = {"max_price_deviation_pct": Decimal("0.5"), "max_orders_per_minute": 100, "max_consecutive_failures": 10}
_FIELDS = ("max_order_notional", "max_position_pct", "max_open_positions", "max_daily_loss_pct", "max_drawdown_pct",
           "max_price_deviation_pct", "max_orders_per_minute", "max_consecutive_failures")


def _rows(account_id, strategy) -> list[RiskLimits]:
    rows = []
    if strategy is not None:
        rows += list(RiskLimits.objects.filter(strategy=strategy))
    if account_id is not None:
        rows += list(RiskLimits.objects.filter(account_id=account_id))
    return rows


def _first_set(rows: list[RiskLimits], name: str):
    return next((getattr(row, name) for row in rows if getattr(row, name) is not None), DEFAULTS.get(name))


def limits_value(*, name: str, strategy=None, account_id=None):
    """The strategy's value, else the account's, else the default."""
    account_id = account_id or (strategy.account_id if strategy is not None else None)
    return _first_set(_rows(account_id, strategy), name)


def limits_for(*, account_id: int, strategy=None) -> Limits:
    rows = _rows(account_id, strategy)
    values = {name: _first_set(rows, name) for name in _FIELDS}
    account_rate = next((row.max_orders_per_minute for row in rows if row.account_id and row.max_orders_per_minute), None)
    return Limits(
        max_order_notional=values["max_order_notional"], max_position_pct=values["max_position_pct"],
        max_open_positions=values["max_open_positions"], max_daily_loss_pct=values["max_daily_loss_pct"],
        max_drawdown_pct=values["max_drawdown_pct"], max_price_deviation_pct=values["max_price_deviation_pct"],
        max_orders_per_minute_strategy=values["max_orders_per_minute"],
        max_orders_per_minute_account=account_rate or DEFAULTS["max_orders_per_minute"],
    )


def kill_state(*, account_id: int | None) -> KillState:
    states = KillSwitch.objects.filter(account_id__isnull=True).values_list("state", flat=True)
    if account_id is not None:
        states = list(states) + list(KillSwitch.objects.filter(account_id=account_id).values_list("state", flat=True))
    return kill_state_combine(*states)
