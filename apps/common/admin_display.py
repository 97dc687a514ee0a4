"""Decimals in the admin and in forms without the storage scale's trailing zeros.

Prices and amounts are stored with 12 decimal places; the admin would print
0.024575400000, and a form's input would start as 150.000000000000. A trader reads 0.0245754
and 150. Django has no setting for this, so the one function the admin uses to print field
values is wrapped here (list pages and read-only fields), and form decimal fields show their
initial values the same way. The rule itself is apps.engine.display.decimal_text."""

from decimal import Decimal

from django import forms
from django.contrib.admin import helpers, utils
from django.contrib.admin.templatetags import admin_list

from apps.engine.display import decimal_text


def decimal_trimmed(value: Decimal) -> str:
    return decimal_text(value)


def _wrap(display_for_field):
    def display(value, field, empty_value_display, *args, **kwargs):
        if isinstance(value, Decimal) and value.is_finite():
            return decimal_trimmed(value)
        return display_for_field(value, field, empty_value_display, *args, **kwargs)

    display.wrapped = display_for_field
    return display


def _prepare_value(self, value):
    """A form's decimal input shows 150, not 150.000000000000 (typed input is left alone)."""
    if isinstance(value, Decimal) and value.is_finite():
        return decimal_text(value)
    return value


def install() -> None:
    for module in (utils, admin_list, helpers):
        if not hasattr(module.display_for_field, "wrapped"):
            module.display_for_field = _wrap(module.display_for_field)
    forms.DecimalField.prepare_value = _prepare_value
