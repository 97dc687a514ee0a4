"""The API's fast representation gives exactly DRF's output, for every resource (list pages
with prefetched rows, money at its places, UTC times, nested events, computed fields)."""

import pytest
from django.contrib.auth.models import User
from rest_framework import serializers as drf

from apps.api import selectors
from apps.api import serializers as api
from apps.common.audit import audit_record

from .test_query_counts import orders_make

pytestmark = pytest.mark.django_db

RESOURCES = [
    (api.AccountSerializer, selectors.api_accounts),
    (api.MarketSerializer, selectors.api_markets),
    (api.StrategySerializer, selectors.api_strategies),
    (api.SignalSerializer, selectors.api_signals),
    (api.OrderSerializer, selectors.api_orders),
    (api.FillSerializer, selectors.api_fills),
    (api.PositionSerializer, selectors.api_positions),
    (api.RiskLimitsSerializer, selectors.api_risk_limits),
    (api.RiskEventSerializer, selectors.api_risk_events),
    (api.KillSwitchSerializer, selectors.api_kill_switches),
    (api.PortfolioSnapshotSerializer, selectors.api_snapshots),
    (api.AuditEntrySerializer, selectors.api_audit_entries),
]


def drf_representation(serializer, row):
    """DRF's own ModelSerializer.to_representation, nested serializers included."""
    out = {}
    for name, field in serializer.fields.items():
        try:
            value = field.get_attribute(row)
        except drf.SkipField:
            continue
        if value is None:
            out[name] = None
        elif isinstance(field, drf.ListSerializer):
            out[name] = [drf_representation(field.child, item) for item in (value if isinstance(value, list) else value.all())]
        elif isinstance(field, drf.ModelSerializer):
            out[name] = drf_representation(field, value)
        else:
            out[name] = field.to_representation(value)
    return out


@pytest.mark.parametrize(("serializer_class", "select"), RESOURCES, ids=lambda item: getattr(item, "__name__", ""))
def test_the_fast_representation_is_drfs_own(desk, serializer_class, select, trader_user):
    orders_make(desk, 3)
    root = User.objects.create_superuser("root", password="x" * 20)
    audit_record(actor=root, via="api", action="test.look", obj=desk.ours.account, before={"a": 1}, after={"a": 2})
    rows = list(select(user=root)[:50])
    assert rows, serializer_class

    fast = serializer_class(rows, many=True).data

    expected = [drf_representation(serializer_class(), row) for row in rows]
    assert [dict(row) for row in fast] == expected
