"""How much to buy or sell: by % of equity, a fixed quote amount, or a risk % to the stop.

Every mode returns a quantity in base units before exchange precision; the fee is reserved
from the budget so that notional + fee never exceeds what was allotted (the way a broker
refuses an all-in order that cannot pay its own fee).
"""

from __future__ import annotations

from dataclasses import dataclass

PERCENT_EQUITY = "percent_equity"
FIXED_QUOTE = "fixed_quote"
RISK_PERCENT = "risk_percent"
MODES = (PERCENT_EQUITY, FIXED_QUOTE, RISK_PERCENT)


@dataclass(frozen=True)
class Sizing:
    """mode: percent_equity (value = fraction of equity, 1.0 = all in), fixed_quote (value =
    quote amount per order) or risk_percent (value = fraction of equity lost if the stop hits)."""

    mode: str = PERCENT_EQUITY
    value: float = 1.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"sizing mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.value > 0:
            raise ValueError(f"sizing value must be positive, got {self.value}")
        if self.mode != FIXED_QUOTE and self.value > 1:
            raise ValueError(f"{self.mode} is a fraction of equity in (0, 1], got {self.value}")


def order_quantity(
    sizing: Sizing,
    *,
    equity: float,
    price: float,
    fee_rate: float,
    stop_price: float = float("nan"),
    fraction: float = 1.0,
) -> float:
    """Quantity wanted for one entry at `price` (0.0 when the mode cannot size it, e.g.
    risk_percent without a stop). `fraction` is the strategy's own size in (0, 1]."""
    mode, value = sizing.mode, sizing.value
    if mode == PERCENT_EQUITY:
        quote = equity * value * fraction
    elif mode == FIXED_QUOTE:
        quote = value * fraction
    else:
        distance = abs(price - stop_price)
        if not distance > 0:  # also catches NaN: no stop, no risk-based size
            return 0.0
        # Losing `distance` per unit plus the fees of both legs must cost value * equity.
        per_unit_risk = distance + price * fee_rate * 2
        return equity * value * fraction / per_unit_risk
    return quote / (price * (1.0 + fee_rate))


def affordable_quantity(*, free_margin: float, price: float, fee_rate: float) -> float:
    """Most that free margin can pay for, fee included (1x: no leverage)."""
    if free_margin <= 0:
        return 0.0
    return free_margin / (price * (1.0 + fee_rate))
