"""The Strategy form: params checked against the engine strategy's own schema, markets checked
for data, the allocation checked against the account's equity."""

import json
from decimal import Decimal

from django import forms

from apps.common.errors import Invalid
from apps.common.validation import form_errors_add
from apps.strategies.models import Strategy
from apps.strategies.validation import CONFIG_FIELDS, account_equity_reader_set, strategy_config_validate


def strategy_kind_choices() -> list[tuple[str, str]]:
    from apps.engine.strategies.registry import strategy_classes

    return [(name, f"{name}: {cls.description}"[:120]) for name, cls in sorted(strategy_classes().items())]


def params_help(kind: str | None) -> str:
    from apps.engine.strategies.registry import strategy_schemas

    schemas = strategy_schemas()
    if kind not in schemas:
        return "Choose a kind, save, and its parameters are listed here. Leave {} for the defaults."
    lines = [
        f"{name} ({p['type']}, default {p['default']}"
        + (f", {p['min']}..{p['max']}" if p["min"] is not None else "")
        + f"): {p['help']}"
        for name, p in schemas[kind]["params"].items()
    ]
    return "Leave out a parameter to use its default. " + " | ".join(lines)


class StrategyForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=())
    params = forms.JSONField(required=False, initial=dict, widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))

    class Meta:
        model = Strategy
        fields = CONFIG_FIELDS  # what strategy_config_validate checks, all of it

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = strategy_kind_choices()
        self.fields["params"].help_text = params_help(self.instance.kind if self.instance.pk else None)

    def clean_params(self):
        params = self.cleaned_data.get("params")
        return {} if params in (None, "") else params

    def clean(self):
        """Every rule of a strategy's configuration, through the one validation the API shares."""
        cleaned = super().clean()
        values = {name: cleaned[name] for name in CONFIG_FIELDS if name in cleaned}
        try:
            cleaned.update(strategy_config_validate(values, instance=self.instance))
        except Invalid as exc:
            form_errors_add(self, exc)
        return cleaned

    def validate_unique(self):
        """The name's uniqueness is part of strategy_config_validate (said once, in its words)."""


def params_pretty(params: dict) -> str:
    return json.dumps(params, indent=1, default=str)


__all__ = ["StrategyForm", "Decimal", "account_equity_reader_set", "params_pretty"]
