"""Filters (django-filter) and ordering for every list. A query parameter the endpoint does not
know is refused (400), never silently ignored: a typo must not return every row."""

from datetime import timedelta

import django_filters as filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from apps.alerts.models import Alert
from apps.api.selectors import snapshots_downsampled
from apps.common.models import AuditEntry
from apps.common.time import utc_datetime
from apps.engine.timeframes import timeframe_ms
from apps.goals.models import DrawdownEvent, Goal, GoalAdjustment, RiskLimitAdjustment
from apps.markets.models import Candle, Market
from apps.markets.timeframes import TIMEFRAME_CHOICES
from apps.risk.models import KillSwitch, RiskEvent, RiskLimits
from apps.strategies.models import Strategy
from apps.trading.models import Fill, Order, PortfolioSnapshot, Position, Signal

PAGING_PARAMS = {"cursor", "page_size"}


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        known = set(PAGING_PARAMS)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            known |= set(filterset_class.base_filters)
        if getattr(view, "ordering_fields", None):
            known.add(OrderingFilter.ordering_param)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            allowed = ", ".join(sorted(known))
            raise ValidationError({name: [f"unknown query parameter; this endpoint knows: {allowed}"] for name in unknown})
        return super().filter_queryset(request, queryset, view)


class StrictOrderingFilter(OrderingFilter):
    def get_ordering(self, request, queryset, view):
        asked = request.query_params.get(self.ordering_param)
        if asked:
            allowed = {name for name, _ in self.get_valid_fields(queryset, view, {"request": request})}
            wrong = [term for term in asked.split(",") if term.strip().lstrip("-") not in allowed]
            if wrong:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"cannot order by {', '.join(wrong)}; choose from {', '.join(sorted(allowed))} (- for descending)"
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)


BIGINT_MAX = 2**63 - 1


class IdFilter(filters.NumberFilter):
    """An object id: a whole number a database column can hold (no 1e400, no 1.5)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class DeskFilterSet(filters.FilterSet):
    """Related objects are filtered by id without loading every choice: an id outside the
    user's accounts simply matches nothing (it does not say whether it exists)."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
    }


class TimeRange(DeskFilterSet):
    """`start` / `end`: ISO times, UTC when no offset is given."""

    time_field = "created_at"
    start = filters.IsoDateTimeFilter(method="_start", help_text="From this time (ISO 8601, inclusive)")
    end = filters.IsoDateTimeFilter(method="_end", help_text="Before this time (ISO 8601, exclusive)")

    def _start(self, queryset, name, value):
        return queryset.filter(**{f"{self.time_field}__gte": _in_utc(name, value)})

    def _end(self, queryset, name, value):
        return queryset.filter(**{f"{self.time_field}__lt": _in_utc(name, value)})


def _in_utc(name: str, value):
    """The time in UTC. PostgreSQL refuses offsets Python accepts (e.g. -20:55), and a time at
    the edge of the calendar may not convert at all: that is the caller's bad input, a 400."""
    try:
        return utc_datetime(value)
    except (OverflowError, ValueError):
        raise ValidationError({name: ["Enter a time between the years 1 and 9999 (ISO 8601, UTC when no offset)."]}) from None


class MarketFilter(DeskFilterSet):
    symbol = filters.CharFilter(help_text="e.g. BTC/USDT")
    exchange = filters.CharFilter(field_name="exchange__code")

    class Meta:
        model = Market
        fields = ["symbol", "exchange", "active"]


class CandleFilter(TimeRange):
    time_field = "open_time"
    market = IdFilter(field_name="market_id", required=True, help_text="Market id")
    timeframe = filters.ChoiceFilter(choices=TIMEFRAME_CHOICES, required=True)

    class Meta:
        model = Candle
        fields = ["market", "timeframe"]


class StrategyFilter(DeskFilterSet):
    class Meta:
        model = Strategy
        fields = ["account", "status", "kind", "timeframe"]


class SignalFilter(TimeRange):
    class Meta:
        model = Signal
        fields = ["account", "strategy", "market", "status", "intent", "source"]


class OrderFilter(TimeRange):
    class Meta:
        model = Order
        fields = ["account", "strategy", "market", "status", "side", "client_order_id"]


class FillFilter(TimeRange):
    time_field = "traded_at"
    account = IdFilter(field_name="order__account_id")
    market = IdFilter(field_name="order__market_id")

    class Meta:
        model = Fill
        fields = ["order", "account", "market"]


class PositionFilter(DeskFilterSet):
    open = filters.BooleanFilter(method="_open", help_text="true: holding; false: closed")

    class Meta:
        model = Position
        fields = ["account", "market", "strategy", "origin"]

    def _open(self, queryset, name, value):
        return queryset.filter(amount__gt=0) if value else queryset.filter(amount__lte=0)


class RiskLimitsFilter(DeskFilterSet):
    class Meta:
        model = RiskLimits
        fields = ["account", "strategy"]


class RiskEventFilter(TimeRange):
    class Meta:
        model = RiskEvent
        fields = ["account", "strategy", "decision"]


class AlertFilter(TimeRange):
    class Meta:
        model = Alert
        fields = ["account", "status", "kind", "priority"]


class KillSwitchFilter(DeskFilterSet):
    class Meta:
        model = KillSwitch
        fields = ["account", "state"]


EVERY_MAX = timedelta(weeks=52)


class SnapshotFilter(TimeRange):
    time_field = "taken_at"
    every = filters.CharFilter(
        method="_every",
        help_text=(
            "One point per bucket of this width (the last snapshot in each): a number and m, h, d or w, "
            "from 1m to 52w, e.g. 1h, 4h, 1d. Buckets start at the UTC epoch (days at 00:00 UTC)."
        ),
    )

    class Meta:
        model = PortfolioSnapshot
        fields = ["account"]

    def _every(self, queryset, name, value):
        return queryset  # applied in filter_queryset, after the account and time filters

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        every = self.form.cleaned_data.get("every")
        if every:
            queryset = snapshots_downsampled(queryset, seconds=_every_seconds(every))
        return queryset


def _every_seconds(value: str) -> int:
    try:
        seconds = timeframe_ms(value.strip()) // 1000
    except (ValueError, TypeError):
        seconds = 0
    if not 60 <= seconds <= EVERY_MAX.total_seconds():
        raise ValidationError({"every": [f"a number and m, h, d or w between 1m and 52w, e.g. 1h or 1d; got {value!r}"]})
    return seconds


class AuditFilter(TimeRange):
    time_field = "at"
    who = filters.CharFilter(field_name="who_name")

    class Meta:
        model = AuditEntry
        fields = ["who", "via", "action", "outcome", "object_type", "object_id"]


class GoalFilter(DeskFilterSet):
    class Meta:
        model = Goal
        fields = ["account", "kind", "active"]


class GoalAdjustmentFilter(TimeRange):
    class Meta:
        model = GoalAdjustment
        fields = ["account", "capped_by"]


class DrawdownEventFilter(TimeRange):
    class Meta:
        model = DrawdownEvent
        fields = ["account", "level", "month"]


class RiskLimitAdjustmentFilter(TimeRange):
    class Meta:
        model = RiskLimitAdjustment
        fields = ["account", "stance"]
