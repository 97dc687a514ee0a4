"""The one display rule for prices and amounts (pages, admin, forms, messages, commands).

Stored decimals carry the storage scale (65995.170000000000); a trader reads 65995.17. A
number is shown on the market's tick (prices) or step (amounts) when the caller knows the
market, else normalised: no exponent, no trailing zeros. Pure, so the engine's risk reasons
use it too."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache


def decimal_text(value, unit=None) -> str:
    """`value` as a trader reads it: on `unit` (a tick or step, e.g. Decimal("0.01")) when
    given, else normalised. Non-numbers are returned as str(); None as ""."""
    if value is None:
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(number)
    if unit and (quantum := _quantum(unit)) is not None:
        return format(number.quantize(quantum, rounding=ROUND_HALF_EVEN), "f")
    text = format(number, "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


@lru_cache(maxsize=1024, typed=True)
def _quantum(unit) -> Decimal | None:
    """The power of ten a number is shown on for this tick or step (0.01 for 0.0100), None for
    a unit of ten or more; a page asks it for every price and amount of a few markets."""
    exponent = Decimal(str(unit)).normalize().as_tuple().exponent
    return Decimal(1).scaleb(exponent) if isinstance(exponent, int) and exponent <= 0 else None
