"""One validation of a goal, shared by the admin form and the API: every bad field at once, as
Invalid(fields=...), in words a trader reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from apps.common.validation import NumberRule, numbers_check, raise_if_any
from apps.engine import goals as rules

TARGETS = {
    rules.MONTHLY_RETURN: NumberRule(
        "monthly return target", Decimal(0), Decimal(10), meaning="a fraction of the month's starting equity, e.g. 0.10 for 10 %"
    ),
    rules.MONTHLY_INCOME: NumberRule(
        "monthly income target",
        Decimal(0),
        Decimal("1e15"),
        meaning="realized profit per calendar month in quote currency, e.g. 4000",
    ),
    rules.PORTFOLIO_VALUE: NumberRule(
        "portfolio value target", Decimal(0), Decimal("1e15"), meaning="the equity to reach in quote currency, e.g. 1000000"
    ),
}


def goal_validate(values: Mapping, *, now: datetime | None = None) -> Decimal:
    """The target as a Decimal. `values`: kind, target, deadline (optional). A deadline is
    checked against `now` when given (a new or changed deadline must lie ahead)."""
    errors: dict[str, list[str]] = {}
    kind, deadline = values.get("kind"), values.get("deadline")
    if kind not in TARGETS:
        errors["kind"] = [f"Choose one of {', '.join(TARGETS)}" + (f" (not {kind!r})." if kind else ".")]
    target = values.get("target")
    if target is None or (isinstance(target, str) and not target.strip()):
        errors["target"] = ["Set the target."]
    elif kind in TARGETS:
        parsed, errors = numbers_check({"target": TARGETS[kind]}, {"target": target}, errors=errors)
        target = parsed["target"]
    if deadline is not None and kind in TARGETS and kind != rules.PORTFOLIO_VALUE:
        errors["deadline"] = ["Only a portfolio value goal has a deadline: a monthly goal runs to the end of each month."]
    elif deadline is not None and now is not None and deadline <= now:
        errors["deadline"] = [f"The deadline must lie ahead (it is {deadline:%Y-%m-%d %H:%M} UTC, before now)."]
    raise_if_any(errors)
    return target
