"""One validation of risk limits, shared by the admin form and the API: every bad field at
once, as Invalid(fields=...), with ranges a trader reads. A blank limit means "no limit" (or
the default) and always passes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from apps.common.validation import NON_FIELD, NumberRule, numbers_check, raise_if_any

ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)


def _pct(label: str, meaning: str) -> NumberRule:
    return NumberRule(label, ZERO, HUNDRED, meaning=f"{meaning}, e.g. 5 for 5 %; leave it blank for no limit")


def _count(label: str, meaning: str, high: int) -> NumberRule:
    return NumberRule(label, ONE, Decimal(high), low_inclusive=True, whole=True, meaning=meaning)


LIMITS = {
    "max_order_notional": NumberRule(
        "max order notional",
        ZERO,
        Decimal("1e15"),
        meaning="the largest order value in quote currency, e.g. 500 for 500 USDT; leave it blank for no limit",
    ),
    "max_position_pct": _pct("max position", "the largest position in one market, as a percentage of equity"),
    "max_daily_loss_pct": _pct(
        "max daily loss", "entries stop once today's loss reaches this percentage of the day's starting equity"
    ),
    "max_drawdown_pct": _pct("max drawdown", "entries stop once equity is this percentage below its peak"),
    "max_price_deviation_pct": _pct(
        "max price deviation", "entries whose price is this percentage away from the last price are refused"
    ),
    "max_open_positions": _count("max open positions", "leave it blank for no limit", 10_000),
    "max_orders_per_minute": _count(
        "max orders per minute", "zero would refuse every order; leave it blank for the default of 100", 100_000
    ),
    "max_consecutive_failures": _count(
        "max consecutive failures",
        "the strategy pauses after this many failures in a row; leave it blank for the default of 10",
        10_000,
    ),
}


def risk_limits_validate(values: Mapping, *, subjects: Mapping[str, str] | None = None) -> dict[str, Decimal | None]:
    """The limits given in `values` as Decimals (None when blank); `account` and `strategy`,
    when given, must name exactly one of them. Raises Invalid with every bad field."""
    parsed, errors = numbers_check(LIMITS, values, subjects=subjects)
    if "account" in values and "strategy" in values and bool(values["account"]) == bool(values["strategy"]):
        errors.setdefault(NON_FIELD, []).append("Risk limits belong to exactly one account or one strategy: choose one.")
    raise_if_any(errors)
    return parsed
