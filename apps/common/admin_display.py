"""Decimals in the admin without the storage scale's trailing zeros.

Prices and amounts are stored with 12 decimal places; the admin would print
0.024575400000. A trader reads 0.0245754. Django has no setting for this, so the one function
the admin uses to print field values is wrapped here (list pages and read-only fields)."""

from decimal import Decimal

from django.contrib.admin import helpers, utils
from django.contrib.admin.templatetags import admin_list


def decimal_trimmed(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _wrap(display_for_field):
    def display(value, field, empty_value_display, *args, **kwargs):
        if isinstance(value, Decimal) and value.is_finite():
            return decimal_trimmed(value)
        return display_for_field(value, field, empty_value_display, *args, **kwargs)

    display.wrapped = display_for_field
    return display


def install() -> None:
    for module in (utils, admin_list, helpers):
        if not hasattr(module.display_for_field, "wrapped"):
            module.display_for_field = _wrap(module.display_for_field)
