"""One validation of a goal, shared by the admin form and the API: every bad field at once, as
Invalid(fields=...), in words a trader reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from apps.common.validation import numbers_check, raise_if_any
from apps.engine import goals as rules
from apps.strategies.backtests.goals import TARGETS  # the one rule for a goal's target (the backtest's --goal too)


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
