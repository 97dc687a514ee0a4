"""GET /api/v1/performance/: all of your accounts, one account or one strategy over a period
(`?start=&end=&by=day|week|month`), from the one performance selector the pages and the daily
summary read (apps.trading.performance)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.filters import _in_utc
from apps.trading.performance import BY, performance_for_user

MONEY = {"max_digits": 30, "decimal_places": 12, "read_only": True}
NUMBER = {"read_only": True, "allow_null": True}


class QuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="From this time (ISO 8601, UTC when no offset; inclusive)")
    end = serializers.DateTimeField(required=False, help_text="Before this time (exclusive)")
    by = serializers.ChoiceField(choices=BY, default="day", help_text="How `pnl_by` groups the P&L (UTC periods)")


class EquityPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField(read_only=True)
    equity = serializers.DecimalField(**MONEY)
    peak = serializers.DecimalField(**MONEY, help_text="Running peak (from the initial equity)")
    drawdown_pct = serializers.FloatField(read_only=True, help_text="Below the running peak, in % of it")


class PeriodPnlSerializer(serializers.Serializer):
    period = serializers.CharField(read_only=True, help_text="2025-01-31 (day), 2025-01-27 (the week's Monday), 2025-01 (month)")
    pnl = serializers.DecimalField(**MONEY, help_text="The period's last equity minus the previous period's last")
    return_pct = serializers.FloatField(**NUMBER)
    equity = serializers.DecimalField(**MONEY)


class AttributionSerializer(serializers.Serializer):
    key = serializers.IntegerField(read_only=True, allow_null=True, help_text="Strategy id (null: operator closes) or market id")
    name = serializers.CharField(read_only=True)
    pnl = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY)
    trades = serializers.IntegerField(read_only=True)
    wins = serializers.IntegerField(read_only=True)
    losses = serializers.IntegerField(read_only=True)
    win_rate_pct = serializers.FloatField(**NUMBER)
    profit_factor = serializers.FloatField(**NUMBER)


class PerformanceSerializer(serializers.Serializer):
    account_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    strategy_id = serializers.IntegerField(**NUMBER)
    start = serializers.DateTimeField(**NUMBER)
    end = serializers.DateTimeField(**NUMBER)
    by = serializers.CharField(read_only=True)
    initial_equity = serializers.DecimalField(**MONEY, allow_null=True, help_text="Equity at the start")
    final_equity = serializers.DecimalField(**MONEY, allow_null=True)
    total_pnl = serializers.DecimalField(**MONEY)
    total_return_pct = serializers.FloatField(**NUMBER)
    realized_pnl = serializers.DecimalField(**MONEY, help_text="Net P&L of the trades closed in the period, fees included")
    unrealized_pnl = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY, help_text="Every fee of the period's fills, in quote")
    trades = serializers.IntegerField(read_only=True)
    wins = serializers.IntegerField(read_only=True)
    losses = serializers.IntegerField(read_only=True)
    open_trades = serializers.IntegerField(read_only=True)
    win_rate_pct = serializers.FloatField(**NUMBER)
    profit_factor = serializers.FloatField(**NUMBER, help_text="Gross profit / gross loss (null without a loss)")
    max_drawdown_pct = serializers.FloatField(**NUMBER)
    drawdown_start = serializers.CharField(**NUMBER)
    drawdown_trough = serializers.CharField(**NUMBER)
    drawdown_recovery = serializers.CharField(**NUMBER)
    sharpe = serializers.FloatField(**NUMBER, help_text="Of daily returns, annualised (sqrt 365); null under 30 days")
    exposure_pct = serializers.FloatField(**NUMBER, help_text="Share of the snapshots with a trade open")
    unavailable = serializers.DictField(child=serializers.CharField(), read_only=True, help_text="Figure -> why it is null")
    equity = EquityPointSerializer(many=True, read_only=True)
    pnl_by = PeriodPnlSerializer(many=True, read_only=True, help_text="P&L per `by` period")
    daily = PeriodPnlSerializer(many=True, read_only=True, help_text="The calendar of daily P&L")
    monthly = PeriodPnlSerializer(many=True, read_only=True, help_text="Monthly returns")
    per_strategy = AttributionSerializer(many=True, read_only=True)
    per_market = AttributionSerializer(many=True, read_only=True)


def _attribution_example(key: int, name: str) -> dict:
    return {
        "key": key,
        "name": name,
        "pnl": "24.775000000000",
        "fees": "0.225000000000",
        "trades": 1,
        "wins": 1,
        "losses": 0,
        "win_rate_pct": 100.0,
        "profit_factor": None,
    }


EXAMPLE = OpenApiExample(
    "An account over February",
    response_only=True,
    value={
        "account_ids": [1],
        "strategy_id": None,
        "start": "2025-02-01T00:00:00Z",
        "end": "2025-03-01T00:00:00Z",
        "by": "month",
        "initial_equity": "1100.000000000000",
        "final_equity": "1089.000000000000",
        "total_pnl": "-11.000000000000",
        "total_return_pct": -1.0,
        "realized_pnl": "24.775000000000",
        "unrealized_pnl": "4.000000000000",
        "fees": "0.265000000000",
        "trades": 1,
        "wins": 1,
        "losses": 0,
        "open_trades": 1,
        "win_rate_pct": 100.0,
        "profit_factor": None,
        "max_drawdown_pct": 10.0,
        "drawdown_start": "2025-01-31T23:00:00Z",
        "drawdown_trough": "2025-02-01T12:00:00Z",
        "drawdown_recovery": None,
        "sharpe": None,
        "exposure_pct": 50.0,
        "unavailable": {"sharpe": "fewer than 30 daily returns"},
        "equity": [
            {"time": "2025-02-01T12:00:00Z", "equity": "990.000000000000", "peak": "1100.000000000000", "drawdown_pct": 10.0}
        ],
        "pnl_by": [{"period": "2025-02", "pnl": "-11.000000000000", "return_pct": -1.0, "equity": "1089.000000000000"}],
        "daily": [{"period": "2025-02-01", "pnl": "-110.000000000000", "return_pct": -10.0, "equity": "990.000000000000"}],
        "monthly": [{"period": "2025-02", "pnl": "-11.000000000000", "return_pct": -1.0, "equity": "1089.000000000000"}],
        "per_strategy": [_attribution_example(3, "BTC trend")],
        "per_market": [_attribution_example(1, "BTC/USDT")],
    },
)
PARAMETERS = [
    OpenApiParameter("start", str, description="From this time (ISO 8601, UTC when no offset; inclusive)"),
    OpenApiParameter("end", str, description="Before this time (exclusive)"),
    OpenApiParameter("by", str, enum=list(BY), description="How `pnl_by` groups the P&L (default day)"),
]


class PerformanceView(APIView):
    """Performance by the backtest's definitions: return, realized / unrealized P&L, fees, win rate,
    profit factor, max drawdown, Sharpe, exposure, the equity curve with its running peak, P&L by
    day / week / month and attribution per strategy and market."""

    @extend_schema(parameters=PARAMETERS, responses=PerformanceSerializer, examples=[EXAMPLE])
    def get(self, request, account_id: str | None = None, strategy_id: str | None = None):
        period = _period(request)
        report = performance_for_user(
            user=request.user,
            account_id=int(account_id) if account_id else None,
            strategy_id=int(strategy_id) if strategy_id else None,
            **period,
        )
        return Response(PerformanceSerializer(report).data)


class AccountPerformanceView(PerformanceView):
    """One account's performance (an account outside yours: 404)."""


class StrategyPerformanceView(PerformanceView):
    """One strategy's: its own trades on its account's equity at the start (outside yours: 404)."""


def _period(request) -> dict:
    unknown = sorted(set(request.query_params) - set(QuerySerializer().fields))
    if unknown:
        raise ValidationError({name: ["unknown query parameter; this endpoint knows: by, end, start"] for name in unknown})
    query = QuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = dict(query.validated_data)
    for name in ("start", "end"):
        if values.get(name) is not None:
            values[name] = _in_utc(name, values[name])
    return {"start": values.get("start"), "end": values.get("end"), "by": values["by"]}
