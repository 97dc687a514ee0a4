"""What each resource looks like. Money is a Decimal as a string (DRF's default: exact), times
are UTC ISO 8601. Computed fields read what the viewsets prefetched: never a query per row."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.alerts.models import Alert, AlertRule, Channel, Delivery
from apps.api.fast import DeskModelSerializer
from apps.common.models import AuditEntry
from apps.engine.order_fsm import OrderStatus
from apps.exchanges.models import ExchangeAccount
from apps.goals.models import DrawdownEvent, Goal, GoalAdjustment, GoalSnapshot, RiskLimitAdjustment
from apps.markets.models import Candle, Market
from apps.risk.models import KillSwitch, RiskEvent, RiskLimits
from apps.strategies.models import Strategy
from apps.trading.models import Balance, Fill, Order, OrderEvent, PortfolioSnapshot, Position, Signal

ACKNOWLEDGED = {OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED}
BPS = Decimal(10_000)


class BalanceSerializer(DeskModelSerializer):
    total = serializers.DecimalField(max_digits=31, decimal_places=12, read_only=True)

    class Meta:
        model = Balance
        fields = ["asset", "free", "used", "total", "updated_at"]


class AccountSerializer(DeskModelSerializer):
    """No key, secret or URL: those never leave the desk."""

    exchange = serializers.CharField(source="exchange.code", read_only=True)
    balances = BalanceSerializer(many=True, read_only=True)
    equity = serializers.DecimalField(
        max_digits=30, decimal_places=12, read_only=True, allow_null=True, help_text="From the newest portfolio snapshot"
    )
    equity_at = serializers.DateTimeField(read_only=True, allow_null=True)
    kill_switch = serializers.CharField(
        source="kill_state",
        read_only=True,
        allow_null=True,
        help_text="active, reduce_only or halted (null: never set, i.e. active)",
    )

    class Meta:
        model = ExchangeAccount
        fields = ["id", "name", "exchange", "mode", "active", "balances", "equity", "equity_at", "kill_switch", "created_at"]


class MarketSerializer(DeskModelSerializer):
    exchange = serializers.CharField(source="exchange.code", read_only=True)

    class Meta:
        model = Market
        fields = [
            "id",
            "exchange",
            "symbol",
            "base",
            "quote",
            "price_precision",
            "amount_precision",
            "min_notional",
            "taker_fee",
            "active",
        ]


class CandleSerializer(DeskModelSerializer):
    class Meta:
        model = Candle
        fields = ["market", "timeframe", "open_time", "open", "high", "low", "close", "volume"]


class StrategySerializer(DeskModelSerializer):
    markets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Strategy
        fields = [
            "id",
            "name",
            "kind",
            "params",
            "markets",
            "timeframe",
            "account",
            "allocation_type",
            "allocation_value",
            "stop_loss_pct",
            "take_profit_pct",
            "trailing_stop_pct",
            "markets_top",
            "status",
            "status_reason",
            "stage",
            "stage_changed_at",
            "consecutive_failures",
            "failure_count",
            "last_error",
            "last_evaluated_at",
            "created_at",
            "updated_at",
        ]


class ParamSchemaSerializer(serializers.Serializer):
    type = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    help = serializers.CharField(allow_blank=True)
    choices = serializers.ListField(child=serializers.JSONField(), allow_null=True)


class StrategyKindSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    params = serializers.DictField(child=ParamSchemaSerializer())


class RiskDecisionSerializer(DeskModelSerializer):
    class Meta:
        model = RiskEvent
        fields = ["id", "decision", "rules", "reason", "checks", "created_at"]


class SignalSerializer(DeskModelSerializer):
    risk_decision = serializers.SerializerMethodField(help_text="The risk engine's decision on it (null: none yet)")

    class Meta:
        model = Signal
        fields = [
            "id",
            "strategy",
            "account",
            "market",
            "candle_time",
            "side",
            "intent",
            "source",
            "price",
            "size",
            "stop_loss",
            "take_profit",
            "reason",
            "indicators",
            "status",
            "rejection_reason",
            "risk_decision",
            "created_at",
        ]

    @extend_schema_field(RiskDecisionSerializer(allow_null=True))
    def get_risk_decision(self, signal):
        decisions = list(signal.risk_events.all())  # prefetched
        return RiskDecisionSerializer(max(decisions, key=lambda event: event.pk)).data if decisions else None


class OrderEventSerializer(DeskModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "created_at", "from_status", "to_status", "cause", "data"]


class OrderSerializer(DeskModelSerializer):
    symbol = serializers.CharField(source="market.symbol", read_only=True)
    events = OrderEventSerializer(many=True, read_only=True, source="event_list")
    signal_price = serializers.DecimalField(
        source="signal.price", max_digits=30, decimal_places=12, read_only=True, allow_null=True
    )
    slippage_bps = serializers.SerializerMethodField(
        help_text="Average fill price vs the signal's price, in basis points; positive = worse for us"
    )
    latency_ms = serializers.SerializerMethodField(help_text="From the signal to the exchange's acknowledgement")

    class Meta:
        model = Order
        fields = [
            "id",
            "account",
            "market",
            "symbol",
            "strategy",
            "signal",
            "client_order_id",
            "venue_order_id",
            "side",
            "type",
            "reduce_only",
            "price",
            "amount",
            "filled",
            "average_price",
            "status",
            "reason",
            "submitted_at",
            "created_at",
            "updated_at",
            "signal_price",
            "slippage_bps",
            "latency_ms",
            "events",
        ]

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True))
    def get_slippage_bps(self, order):
        signal = order.signal
        if signal is None or not order.average_price or not signal.price:
            return None
        worse = order.average_price - signal.price if order.side == "buy" else signal.price - order.average_price
        return f"{(worse / signal.price * BPS).quantize(Decimal('0.0001'))}"

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_latency_ms(self, order) -> int | None:
        if order.signal is None:
            return None
        acked = next((event.created_at for event in order.event_list if event.to_status in ACKNOWLEDGED), None)
        if acked is None:
            return None
        return int((acked - order.signal.created_at).total_seconds() * 1000)


class FillSerializer(DeskModelSerializer):
    account = serializers.IntegerField(source="order.account_id", read_only=True)
    market = serializers.IntegerField(source="order.market_id", read_only=True)
    side = serializers.CharField(source="order.side", read_only=True)

    class Meta:
        model = Fill
        fields = [
            "id",
            "order",
            "account",
            "market",
            "side",
            "venue_trade_id",
            "price",
            "amount",
            "fee",
            "fee_currency",
            "traded_at",
            "created_at",
        ]


class PositionSerializer(DeskModelSerializer):
    symbol = serializers.CharField(source="market.symbol", read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Position
        fields = [
            "id",
            "account",
            "market",
            "symbol",
            "side",
            "origin",
            "strategy",
            "amount",
            "is_open",
            "average_entry",
            "last_price",
            "realized_pnl",
            "unrealized_pnl",
            "fees",
            "stop_loss",
            "take_profit",
            "trailing_stop_pct",
            "high_water",
            "created_at",
            "updated_at",
        ]


class RiskLimitsSerializer(DeskModelSerializer):
    class Meta:
        model = RiskLimits
        fields = [
            "id",
            "account",
            "strategy",
            "max_order_notional",
            "max_position_pct",
            "max_open_positions",
            "max_daily_loss_pct",
            "max_drawdown_pct",
            "max_price_deviation_pct",
            "max_orders_per_minute",
            "max_consecutive_failures",
        ]


class RiskEventSerializer(DeskModelSerializer):
    class Meta:
        model = RiskEvent
        fields = ["id", "created_at", "account", "strategy", "signal", "decision", "rules", "reason", "checks"]


class KillSwitchSerializer(DeskModelSerializer):
    class Meta:
        model = KillSwitch
        fields = ["id", "account", "state", "reason", "changed_at"]


class PortfolioSnapshotSerializer(DeskModelSerializer):
    class Meta:
        model = PortfolioSnapshot
        fields = ["id", "account", "taken_at", "equity", "cash", "positions_value", "realized_pnl", "unrealized_pnl"]


class AuditEntrySerializer(DeskModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "who",
            "who_name",
            "via",
            "action",
            "outcome",
            "reason",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        ]


class GoalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Goal
        fields = [
            "id",
            "account",
            "kind",
            "target",
            "deadline",
            "active",
            "catch_up_enabled",
            "set_value",
            "set_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["set_value", "set_at", "created_at", "updated_at"]


class GoalWriteSerializer(serializers.Serializer):
    """Types only: the goal validation (apps.goals.validation) checks the values, every bad field at once."""

    account = serializers.IntegerField(min_value=1, max_value=2**63 - 1, allow_null=True, required=False)
    kind = serializers.CharField(max_length=20, required=False)
    target = serializers.CharField(max_length=60, required=False, help_text="A number: 0.10 (return), 4000, 1000000")
    deadline = serializers.DateTimeField(allow_null=True, required=False)
    active = serializers.BooleanField(required=False)
    catch_up_enabled = serializers.BooleanField(required=False)


class GoalStatusSerializer(serializers.Serializer):
    goal = GoalSerializer()
    status = serializers.CharField(help_text="achieved, on_track, at_risk, behind or critical ('' when not measured)")
    current = serializers.FloatField(help_text="The month's return (fraction), the month's realized income or the equity")
    progress = serializers.FloatField()
    expected = serializers.FloatField(allow_null=True)
    pace_ratio = serializers.FloatField(allow_null=True)
    remaining = serializers.FloatField()
    days_left = serializers.IntegerField(allow_null=True)
    required_daily_return = serializers.FloatField(allow_null=True)
    factor = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True, help_text="Sizing factor in force")
    stance = serializers.CharField()
    max_position_pct = serializers.DecimalField(max_digits=8, decimal_places=4, allow_null=True)
    entries_paused = serializers.CharField(help_text="Why the goal drawdown protection refuses entries ('' when it does not)")
    error = serializers.CharField()


class GoalSnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = GoalSnapshot
        fields = [
            "id",
            "goal",
            "day",
            "taken_at",
            "value",
            "current",
            "month_start_value",
            "progress",
            "expected",
            "pace_ratio",
            "status",
        ]


class GoalAdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = GoalAdjustment
        fields = [
            "id",
            "created_at",
            "account",
            "signal",
            "base_size",
            "pace_factor",
            "early_month_factor",
            "preservation_factor",
            "final_factor",
            "final_size",
            "capped_by",
            "reason",
        ]


class DrawdownEventSerializer(serializers.ModelSerializer):
    cleared_by = serializers.CharField(source="cleared_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = DrawdownEvent
        fields = [
            "id",
            "created_at",
            "account",
            "month",
            "level",
            "stance",
            "limit",
            "actual",
            "value",
            "peak",
            "actions",
            "reason",
            "cleared_at",
            "cleared_by",
        ]


class RiskLimitAdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskLimitAdjustment
        fields = ["id", "created_at", "account", "stance", "limit", "base", "progress", "reason"]


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name", read_only=True)
    channel_kind = serializers.CharField(source="channel.kind", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "channel", "channel_kind", "outcome", "attempt", "reminder", "digest_count", "response", "at"]


class AlertSerializer(serializers.ModelSerializer):
    priority = serializers.CharField(source="get_priority_display", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "created_at",
            "account",
            "kind",
            "priority",
            "title",
            "body",
            "status",
            "snoozed_until",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "reminders",
            "deliveries",
        ]


class AlertRuleSerializer(serializers.ModelSerializer):
    """Writes go through apps.alerts.rules.alert_rule_save (the trader role, your accounts, one
    validation with the admin's form); the ids named must be of the rule's account."""

    channels = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Channel.objects.all())

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "account",
            "condition",
            "threshold",
            "event_kinds",
            "priority",
            "min_priority",
            "accounts",
            "markets",
            "strategies",
            "channels",
            "active",
        ]
        extra_kwargs = {"accounts": {"required": False}, "markets": {"required": False}, "strategies": {"required": False}}
