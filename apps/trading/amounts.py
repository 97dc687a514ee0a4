"""Amounts on an exchange's grid (its amount step and price tick), in Decimal."""

from decimal import ROUND_DOWN, Decimal


def quantize_amount(amount: Decimal, step: Decimal) -> Decimal:
    """Down to a whole number of steps. The step is stored with 12 places (0.000010000000), so
    Decimal.quantize(step) would keep 12 places: count the steps instead (works for 0.5 too)."""
    if step <= 0:
        return amount
    return ((amount / step).to_integral_value(rounding=ROUND_DOWN) * step).normalize()
