"""The Strategy form: params checked against the engine strategy's own schema, markets checked
for data, the allocation checked against the account's equity."""

import json
from decimal import Decimal

from django import forms

from apps.common.errors import Invalid
from apps.common.validation import form_errors_add, number_text
from apps.markets.models import CollectorStatus
from apps.strategies.models import Strategy
from apps.strategies.validation import strategy_settings_validate

# The account's equity is trading's to know, and strategies sits below trading: trading hands
# the form its reader when the apps are ready (apps/trading/apps.py). Without one, a quote
# allocation is not checked against the equity.
_account_equity_reader = None


def account_equity_reader_set(reader) -> None:
    global _account_equity_reader
    _account_equity_reader = reader


SETTINGS_FIELDS = ("allocation_type", "allocation_value", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct")


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
        fields = (
            "name",
            "kind",
            "params",
            "account",
            "markets",
            "timeframe",
            "allocation_type",
            "allocation_value",
            "stop_loss_pct",
            "take_profit_pct",
            "trailing_stop_pct",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = strategy_kind_choices()
        self.fields["params"].help_text = params_help(self.instance.kind if self.instance.pk else None)

    def clean_params(self):
        params = self.cleaned_data.get("params") or {}
        if not isinstance(params, dict):
            raise forms.ValidationError('Enter the parameters as a JSON object, e.g. {"fast": 9, "slow": 21}.')
        return params

    def clean(self):
        cleaned = super().clean()
        self._clean_params(cleaned)
        self._clean_data_available(cleaned)
        self._clean_settings(cleaned)
        return cleaned

    def _clean_settings(self, cleaned):
        """Allocation and protective exits, through the one validation of strategy settings."""
        values = {name: cleaned[name] for name in SETTINGS_FIELDS if name in cleaned}
        try:
            strategy_settings_validate(values, markets=cleaned.get("markets") or ())
        except Invalid as exc:
            form_errors_add(self, exc)
            return
        self._clean_allocation_fits_equity(cleaned)

    def _clean_params(self, cleaned):
        from apps.engine.strategies.base import InvalidParamsError
        from apps.engine.strategies.registry import strategy_get

        kind, params = cleaned.get("kind"), cleaned.get("params")
        if not kind or params is None:
            return
        try:
            cleaned["params"] = strategy_get(kind).validate_params(params)
        except InvalidParamsError as exc:
            self.add_error("params", [f"{name}: {message}" for name, message in exc.errors.items()])
            return
        entry = cleaned["params"].get("entry_timeframe")
        if entry and cleaned.get("timeframe") and entry != cleaned["timeframe"]:
            self.add_error(
                "timeframe", f"This strategy's entry_timeframe is {entry}: run it on {entry} candles, or change the parameter."
            )

    def _clean_data_available(self, cleaned):
        markets, timeframe = cleaned.get("markets"), cleaned.get("timeframe")
        if not markets or not timeframe:
            return
        with_data = set(
            CollectorStatus.objects.filter(market__in=markets, timeframe=timeframe, last_candle_time__isnull=False).values_list(
                "market_id", flat=True
            )
        )
        missing = [market.symbol for market in markets if market.pk not in with_data]
        if missing:
            self.add_error(
                "timeframe",
                f"No {timeframe} candles are collected for {', '.join(missing)}. "
                f"Add a collector for that timeframe under Markets > Collector statuses, or pick another timeframe.",
            )

    def _clean_allocation_fits_equity(self, cleaned):
        kind, value, account = cleaned.get("allocation_type"), cleaned.get("allocation_value"), cleaned.get("account")
        if kind == Strategy.Allocation.QUOTE and value is not None and account is not None and _account_equity_reader:
            equity = _account_equity_reader(account=account)
            if value > equity:
                self.add_error(
                    "allocation_value",
                    f"{number_text(value)} is more than the account's equity "
                    f"({number_text(equity.quantize(Decimal('0.01')))}). Lower it, or use a % of equity.",
                )


def params_pretty(params: dict) -> str:
    return json.dumps(params, indent=1, default=str)


__all__ = ["StrategyForm", "Decimal", "params_pretty"]
