"""Number ranges a trader reads: one rule per setting (its label, its bounds, what it means),
checked together so that every bad field is reported at once as Invalid(fields=...).

The strategy settings (apps.strategies.validation) and the risk limits
(apps.risk.validation) are declared with these rules and shared by every interface: the
admin forms, the backtest and optimize commands, the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.common.errors import Invalid
from apps.engine.display import decimal_text

NON_FIELD = "__all__"  # Django's NON_FIELD_ERRORS: an error about no one field


def number_text(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 5, 0.05, 1000000 (the one display rule)."""
    return decimal_text(value)


@dataclass(frozen=True)
class NumberRule:
    label: str  # what a trader calls it: "stop-loss"
    low: Decimal | None = None
    high: Decimal | None = None
    low_inclusive: bool = False
    high_inclusive: bool = True
    meaning: str = ""  # "a percentage of the entry price, e.g. 5 for 5 %"
    whole: bool = False  # a count: no fraction

    def bounds_text(self) -> str:
        low = high = ""
        if self.low is not None:
            low = f"{'at least' if self.low_inclusive else 'above'} {number_text(self.low)}"
        if self.high is not None:
            high = f"{'at most' if self.high_inclusive else 'below'} {number_text(self.high)}"
        if self.whole:
            low = low.replace("at least", "a whole number of at least").replace("above", "a whole number above")
        return " and ".join(part for part in (low, high) if part)

    def problem(self, value) -> tuple[Decimal | None, str | None]:
        """(the value as a Decimal, None) or (None, what is wrong, without the subject)."""
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None, f"must be a number {self.bounds_text()}{self._means()}; got {value!r}"
        if (
            not number.is_finite()
            or (self.whole and number != number.to_integral_value())
            or (self.low is not None and (number < self.low or (number == self.low and not self.low_inclusive)))
            or (self.high is not None and (number > self.high or (number == self.high and not self.high_inclusive)))
        ):
            return None, f"must be {self.bounds_text()}{self._means()}; got {number_text(number)}"
        return number, None

    def _means(self) -> str:
        return f" ({self.meaning})" if self.meaning else ""


def numbers_check(
    rules: Mapping[str, NumberRule],
    values: Mapping,
    *,
    subjects: Mapping[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> tuple[dict[str, Decimal | None], dict[str, list[str]]]:
    """Check every value given (None and "" mean "not set" and pass). Returns the parsed values
    and the errors so far, each a sentence naming its subject (the rule's label unless
    `subjects` names it otherwise, e.g. the command-line flag the trader typed)."""
    errors = {} if errors is None else errors
    parsed: dict[str, Decimal | None] = {}
    for name, rule in rules.items():
        if name not in values:
            continue
        value = values[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            parsed[name] = None
            continue
        parsed[name], problem = rule.problem(value)
        if problem:
            subject = (subjects or {}).get(name) or rule.label
            errors.setdefault(name, []).append(f"{subject[0].upper()}{subject[1:]} {problem}.")
    return parsed, errors


def raise_if_any(errors: dict[str, list[str]]) -> None:
    if errors:
        raise Invalid.from_fields(errors, message=" ".join(m for messages in errors.values() for m in messages))


def form_errors_add(form, invalid: Invalid) -> None:
    """Invalid(fields) into a Django form: each message on its field when the form has it."""
    for name, messages in invalid.fields.items():
        if name in form.errors:
            continue  # the field itself already refused the value (not a number...)
        form.add_error(name if name in form.fields else None, messages)
