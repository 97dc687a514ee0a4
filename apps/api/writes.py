"""Creating and editing configuration (strategies, risk limits): admins only (the user's role
and the token's scope). The body goes as it came to the service, whose one validation (shared
with the admin) reports every bad field at once (422); the request serializers below only
describe the body in the schema. Audited by the services; an Idempotency-Key is honoured."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from apps.api.commands import IDEMPOTENCY
from apps.api.idempotency import idempotent
from apps.api.serializers import RiskLimitsSerializer, StrategySerializer
from apps.common.audit import Via
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.exchanges.roles import Role
from apps.risk.services import risk_limits_create, risk_limits_update
from apps.risk.validation import LIMITS
from apps.strategies.models import Strategy
from apps.strategies.services import strategy_create, strategy_update

ADMIN_WRITES = {"create": Role.ADMIN, "partial_update": Role.ADMIN}


def _pct(help_text: str):
    return serializers.DecimalField(max_digits=8, decimal_places=4, allow_null=True, required=False, help_text=help_text)


class StrategyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    kind = serializers.CharField(help_text="A strategy kind (GET /api/v1/strategy-kinds/)")
    params = serializers.DictField(required=False, help_text="Checked against the kind's schema; missing ones take their default")
    account = serializers.IntegerField(min_value=1, help_text="One of your accounts")
    markets = serializers.ListField(child=serializers.IntegerField(min_value=1), help_text="Market ids on the account's exchange")
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAME_SECONDS), required=False, help_text="Default 1m")
    allocation_type = serializers.ChoiceField(choices=Strategy.Allocation.values, required=False, help_text="Default quote")
    allocation_value = serializers.DecimalField(
        max_digits=30, decimal_places=12, required=False, help_text="Quote amount per entry, or % of equity (default 100)"
    )
    stop_loss_pct = _pct("Protective stop below the entry, in % (null: none)")
    take_profit_pct = _pct("Take profit above the entry, in % (null: none)")
    trailing_stop_pct = _pct("Trailing stop below the highest price since the entry, in % (null: none)")
    markets_top = serializers.IntegerField(
        min_value=1,
        allow_null=True,
        required=False,
        help_text="Open positions only in the N best-scored of the markets (daily pair score); null: every market",
    )


class RiskLimitsWriteSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1, required=False, allow_null=True, help_text="Limits of one account...")
    strategy = serializers.IntegerField(min_value=1, required=False, allow_null=True, help_text="...or of one strategy")

    def get_fields(self):
        fields = super().get_fields()
        for name, rule in LIMITS.items():
            fields[name] = serializers.DecimalField(
                max_digits=30,
                decimal_places=12,
                allow_null=True,
                required=False,
                help_text=f"{rule.label}: {rule.bounds_text()} ({rule.meaning})",
            )
        return fields


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ParseError("Send a JSON object with the fields to set.")
    return dict(request.data)


def _writes(serializer, answer, summary: str):
    """create + partial_update (PATCH) documented with their body and Idempotency-Key."""
    create_doc = extend_schema(request=serializer, responses={201: answer}, parameters=[IDEMPOTENCY], summary=f"Create {summary}")
    update_doc = extend_schema(
        request=serializer(partial=True), responses={200: answer}, parameters=[IDEMPOTENCY], summary=f"Change {summary}"
    )
    return create_doc, update_doc


_strategy_create_doc, _strategy_update_doc = _writes(StrategyWriteSerializer, StrategySerializer, "a strategy (admins)")
_limits_create_doc, _limits_update_doc = _writes(RiskLimitsWriteSerializer, RiskLimitsSerializer, "risk limits (admins)")


class StrategyWrites:
    action_roles = ADMIN_WRITES
    http_method_names = ["get", "post", "patch", "head", "options"]

    @_strategy_create_doc
    def create(self, request):
        def run():
            strategy = strategy_create(actor=request.user, values=_body(request), via=Via.API)
            return Response(StrategySerializer(self.get_queryset().get(pk=strategy.pk)).data, status=status.HTTP_201_CREATED)

        return idempotent(request, run)

    @_strategy_update_doc
    def partial_update(self, request, pk=None):
        def run():
            strategy = strategy_update(actor=request.user, strategy=self.get_object(), values=_body(request), via=Via.API)
            return Response(StrategySerializer(self.get_queryset().get(pk=strategy.pk)).data)

        return idempotent(request, run)


class RiskLimitsWrites:
    action_roles = ADMIN_WRITES
    http_method_names = ["get", "post", "patch", "head", "options"]

    @_limits_create_doc
    def create(self, request):
        def run():
            limits = risk_limits_create(actor=request.user, values=_body(request), via=Via.API)
            return Response(RiskLimitsSerializer(limits).data, status=status.HTTP_201_CREATED)

        return idempotent(request, run)

    @_limits_update_doc
    def partial_update(self, request, pk=None):
        def run():
            limits = risk_limits_update(actor=request.user, limits=self.get_object(), values=_body(request), via=Via.API)
            return Response(RiskLimitsSerializer(limits).data)

        return idempotent(request, run)
