"""One validation of a strategy's settings, shared by the admin form, the backtest and
optimize commands and the API: every bad field at once, as Invalid(fields=...), in words a
trader reads ("stop-loss must be above 0 and below 100 (a percentage of the entry price,
e.g. 5 for 5 %); got -5").

Percent settings are stored as percentages (5 = 5 %), as the admin and the commands take them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from apps.common.validation import NumberRule, number_text, numbers_check, raise_if_any

ZERO, HUNDRED = Decimal(0), Decimal(100)

PROTECTIVE_EXITS = {
    "stop_loss_pct": NumberRule(
        "stop-loss",
        ZERO,
        HUNDRED,
        high_inclusive=False,
        meaning="a percentage of the entry price, e.g. 5 for 5 %; leave it blank for none",
    ),
    "take_profit_pct": NumberRule(
        "take-profit", ZERO, Decimal(1000), meaning="a percentage of the entry price, e.g. 10 for 10 %; leave it blank for none"
    ),
    "trailing_stop_pct": NumberRule(
        "trailing stop",
        ZERO,
        HUNDRED,
        high_inclusive=False,
        meaning="a percentage below the highest price since the entry, e.g. 3 for 3 %; leave it blank for none",
    ),
}
ALLOCATION = {
    "quote": NumberRule("allocation", ZERO, Decimal("1e15"), meaning="the quote amount each entry spends, e.g. 100 for 100 USDT"),
    "equity_pct": NumberRule(
        "allocation", ZERO, HUNDRED, meaning="the percentage of the account's equity each entry spends, e.g. 10 for 10 %"
    ),
}
BACKTEST = {
    "initial_balance": NumberRule(
        "initial balance", Decimal("0.01"), Decimal("1e15"), low_inclusive=True, meaning="in quote currency, e.g. 10000"
    ),
    "fee_pct": NumberRule(
        "fee", ZERO, Decimal(5), low_inclusive=True, meaning="a percentage of each order's value, e.g. 0.1 for 0.1 %"
    ),
    "slippage_bps": NumberRule(
        "slippage", ZERO, Decimal(1000), low_inclusive=True, meaning="in basis points of the price, e.g. 5 for 0.05 %"
    ),
}


def strategy_settings_validate(
    values: Mapping,
    *,
    markets: Iterable = (),
    subjects: Mapping[str, str] | None = None,
) -> dict[str, Decimal | None]:
    """The settings given in `values` (stop_loss_pct, take_profit_pct, trailing_stop_pct,
    allocation_type + allocation_value; a backtest's initial_balance, fee_pct, slippage_bps)
    as Decimals (None when blank). A quote allocation must reach every market's minimum order
    value, or each entry would be refused. Raises Invalid with every bad field."""
    parsed, errors = numbers_check({**PROTECTIVE_EXITS, **BACKTEST}, values, subjects=subjects)
    kind = values.get("allocation_type")
    if kind in ALLOCATION and "allocation_value" in values:
        allocation, errors = numbers_check({"allocation_value": ALLOCATION[kind]}, values, subjects=subjects, errors=errors)
        parsed.update(allocation)
        value = parsed.get("allocation_value")
        if kind == "quote" and value is not None:
            _allocation_reaches_minimums(value, markets, errors, (subjects or {}).get("allocation_value") or "allocation")
    raise_if_any(errors)
    return parsed


def _allocation_reaches_minimums(value: Decimal, markets: Iterable, errors: dict, subject: str) -> None:
    below = [market for market in markets if market.min_notional and value < market.min_notional]
    if below:
        smallest = max(market.min_notional for market in below)
        names = ", ".join(f"{m.symbol} {number_text(m.min_notional)} {m.quote}" for m in below)
        errors.setdefault("allocation_value", []).append(
            f"{subject[0].upper()}{subject[1:]} {number_text(value)} is below the smallest order the exchange accepts "
            f"({names}): every entry would be refused; enter at least {number_text(smallest)}."
        )
