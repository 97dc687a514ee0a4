"""Read resources under /api/v1/: list + detail, each queryset cut to the user's accounts."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from apps.alerts.rules import alert_rule_delete, alert_rule_save
from apps.api import filters, selectors, serializers
from apps.api.commands import (
    IDEMPOTENCY,
    AccountCommands,
    AlertCommands,
    KillSwitchCommands,
    OrderCommands,
    PositionCommands,
    StrategyCommands,
)
from apps.api.idempotency import idempotent
from apps.api.page_cache import CachedPages
from apps.api.pagination import CandlePagination
from apps.api.writes import RiskLimitsWrites, StrategyWrites
from apps.common.audit import Via
from apps.engine.strategies.registry import strategy_schemas
from apps.exchanges.roles import Role


class DeskReadViewSet(viewsets.ReadOnlyModelViewSet):
    """`select` names the selector that gives the user's rows."""

    select = None
    ordering = ["-id"]

    def get_queryset(self):
        return type(self).select(user=self.request.user)


class AccountViewSet(AccountCommands, DeskReadViewSet):
    """Exchange accounts you are a member of: balances, equity, kill switch. Never a key or secret."""

    select = selectors.api_accounts
    serializer_class = serializers.AccountSerializer
    ordering_fields = ["id", "name"]
    ordering = ["name"]


class MarketViewSet(DeskReadViewSet):
    select = selectors.api_markets
    serializer_class = serializers.MarketSerializer
    filterset_class = filters.MarketFilter
    ordering_fields = ["id", "symbol"]
    ordering = ["id"]


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("page_size", int, description="Candles per page, up to 5,000 (default 1,000)")]
    )
)
class CandleViewSet(DeskReadViewSet):
    """Closed candles of one market and timeframe (open time, UTC), oldest first."""

    select = selectors.api_candles
    serializer_class = serializers.CandleSerializer
    filterset_class = filters.CandleFilter
    pagination_class = CandlePagination
    ordering_fields = ["open_time"]
    ordering = ["open_time"]


class StrategyViewSet(StrategyWrites, StrategyCommands, DeskReadViewSet):
    """Strategies of your accounts; admins create and change them (the admin's validation)."""

    select = selectors.api_strategies
    serializer_class = serializers.StrategySerializer
    filterset_class = filters.StrategyFilter
    ordering_fields = ["id", "name", "status"]


class StrategyKindViewSet(viewsets.ViewSet):
    """The engine's strategies and the schema of their params."""

    lookup_field = "name"
    lookup_value_regex = "[a-z][a-z0-9_]*"
    filter_backends = []
    pagination_class = None

    @extend_schema(responses=serializers.StrategyKindSerializer(many=True))
    def list(self, request):
        return Response([{"name": name, **schema} for name, schema in strategy_schemas().items()])

    @extend_schema(responses=serializers.StrategyKindSerializer)
    def retrieve(self, request, name=None):
        schemas = strategy_schemas()
        if name not in schemas:
            raise NotFound(f"No strategy kind {name!r}; known: {', '.join(schemas)}.")
        return Response({"name": name, **schemas[name]})


class SignalViewSet(DeskReadViewSet):
    """What strategies (and people) asked for, with the indicator values and the risk decision."""

    select = selectors.api_signals
    serializer_class = serializers.SignalSerializer
    filterset_class = filters.SignalFilter
    ordering_fields = ["id", "candle_time", "created_at"]


class OrderViewSet(OrderCommands, CachedPages, DeskReadViewSet):
    """Orders with their events, slippage vs the signal's price and latency from the signal to the ack."""

    select = selectors.api_orders
    page_version = selectors.api_orders_version
    serializer_class = serializers.OrderSerializer
    filterset_class = filters.OrderFilter
    ordering_fields = ["id", "created_at", "updated_at"]


class FillViewSet(DeskReadViewSet):
    select = selectors.api_fills
    serializer_class = serializers.FillSerializer
    filterset_class = filters.FillFilter
    ordering_fields = ["id", "traded_at"]


class PositionViewSet(PositionCommands, DeskReadViewSet):
    """Positions, open and closed; unrealized P&L at the last price the desk marked."""

    select = selectors.api_positions
    serializer_class = serializers.PositionSerializer
    filterset_class = filters.PositionFilter
    ordering_fields = ["id", "updated_at", "unrealized_pnl", "realized_pnl"]


class RiskLimitsViewSet(RiskLimitsWrites, DeskReadViewSet):
    """Read by every member; set by admins (desk-wide limits by superusers)."""

    select = selectors.api_risk_limits
    serializer_class = serializers.RiskLimitsSerializer
    filterset_class = filters.RiskLimitsFilter
    ordering_fields = ["id"]


class RiskEventViewSet(DeskReadViewSet):
    select = selectors.api_risk_events
    serializer_class = serializers.RiskEventSerializer
    filterset_class = filters.RiskEventFilter
    ordering_fields = ["id", "created_at"]


class KillSwitchViewSet(KillSwitchCommands, DeskReadViewSet):
    """One per account and one global (account null)."""

    select = selectors.api_kill_switches
    serializer_class = serializers.KillSwitchSerializer
    filterset_class = filters.KillSwitchFilter
    ordering_fields = ["id", "changed_at"]


class AlertViewSet(AlertCommands, DeskReadViewSet):
    """Alerts with their status and each delivery per channel: `?status=triggered` for those
    waiting for someone."""

    select = selectors.api_alerts
    serializer_class = serializers.AlertSerializer
    filterset_class = filters.AlertFilter
    ordering_fields = ["id", "created_at", "priority"]


class AlertRuleViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, DeskReadViewSet):
    """Alert rules: on events (`event_kinds`) or on a condition the desk watches (`condition` +
    `threshold`: price crosses, position P&L %, strategy drawdown %, daily loss %, minutes
    without a fill). Reading: every role; writing: the trader role (user and token scope), for
    rules of your accounts naming your accounts' strategies and channels and markets on their
    exchange (desk-wide rules: superusers). Channels are an admin's (the admin pages)."""

    select = selectors.api_alert_rules
    serializer_class = serializers.AlertRuleSerializer
    ordering_fields = ["id", "name"]
    ordering = ["name", "id"]

    def get_permissions(self):
        self.required_role = Role.TRADER if self.request.method not in SAFE_METHODS else Role.NONE
        return super().get_permissions()

    @extend_schema(parameters=[IDEMPOTENCY])
    def create(self, request, *args, **kwargs):
        return idempotent(request, lambda: super(AlertRuleViewSet, self).create(request, *args, **kwargs))

    @extend_schema(parameters=[IDEMPOTENCY])
    def update(self, request, *args, **kwargs):
        return idempotent(request, lambda: super(AlertRuleViewSet, self).update(request, *args, **kwargs))

    @extend_schema(parameters=[IDEMPOTENCY])
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)  # through update: one claim of the key

    @extend_schema(parameters=[IDEMPOTENCY])
    def destroy(self, request, *args, **kwargs):
        return idempotent(request, lambda: super(AlertRuleViewSet, self).destroy(request, *args, **kwargs))

    def perform_create(self, serializer):
        serializer.instance = alert_rule_save(actor=self.request.user, values=dict(serializer.validated_data), via=Via.API)

    def perform_update(self, serializer):
        serializer.instance = alert_rule_save(
            actor=self.request.user, values=dict(serializer.validated_data), rule=serializer.instance, via=Via.API
        )

    def perform_destroy(self, instance):
        alert_rule_delete(actor=self.request.user, rule=instance, via=Via.API)


class PortfolioSnapshotViewSet(DeskReadViewSet):
    """The equity curve: `?account=&start=&end=&every=1h` (every: the last snapshot of each hour)."""

    select = selectors.api_snapshots
    serializer_class = serializers.PortfolioSnapshotSerializer
    filterset_class = filters.SnapshotFilter
    ordering_fields = ["id", "taken_at"]


class AuditEntryViewSet(DeskReadViewSet):
    """Who did what, through which door (admins only)."""

    select = selectors.api_audit_entries
    serializer_class = serializers.AuditEntrySerializer
    filterset_class = filters.AuditFilter
    ordering_fields = ["id", "at"]
    required_role = Role.ADMIN
