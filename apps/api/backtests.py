"""Backtests in the API: the runs you may see (metrics, trades, equity, the report's link), and
`POST /api/v1/backtests/` that queues a backtest job on the research workers and answers with
the job (status, progress; its run once done) at `/api/v1/backtest-jobs/<id>/`."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from apps.api.commands import IDEMPOTENCY
from apps.api.filters import DeskFilterSet, IdFilter
from apps.api.idempotency import idempotent
from apps.common.audit import Via
from apps.strategies.backtests.jobs import backtest_job_submit
from apps.strategies.backtests.selectors import backtest_jobs_visible_to, backtest_runs_visible_to
from apps.strategies.models import BacktestJob, BacktestRun

KEY_METRICS = ("total_return_pct", "max_drawdown_pct", "sharpe", "trades", "win_rate_pct", "profit_factor", "fees")


class BacktestRunSerializer(serializers.ModelSerializer):
    key_metrics = serializers.SerializerMethodField(help_text="Return, drawdown, Sharpe, trades, win rate, profit factor, fees")
    report_url = serializers.SerializerMethodField(help_text="The full HTML report (null: none was written)")

    class Meta:
        model = BacktestRun
        fields = [
            "id",
            "strategy",
            "kind",
            "params",
            "symbols",
            "timeframe",
            "data_start",
            "data_end",
            "candle_count",
            "initial_balance",
            "settings",
            "key_metrics",
            "report_url",
            "code_version",
            "data_hash",
            "created_at",
        ]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "number", "nullable": True}})
    def get_key_metrics(self, run) -> dict:
        return {name: run.metrics.get(name) for name in KEY_METRICS}

    @extend_schema_field({"type": "string", "nullable": True})
    def get_report_url(self, run) -> str | None:
        return reverse("backtest-report", args=[run.pk]) if run.report_path else None


class BacktestRunDetailSerializer(BacktestRunSerializer):
    class Meta(BacktestRunSerializer.Meta):
        fields = [*BacktestRunSerializer.Meta.fields, "metrics", "trades", "equity_curve"]


class BacktestJobSerializer(serializers.ModelSerializer):
    run = serializers.PrimaryKeyRelatedField(
        source="result", read_only=True, allow_null=True, help_text="Its BacktestRun once done"
    )
    run_url = serializers.SerializerMethodField()

    class Meta:
        model = BacktestJob
        fields = [
            "id",
            "status",
            "progress",
            "stage",
            "error",
            "request",
            "strategy",
            "run",
            "run_url",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field({"type": "string", "nullable": True})
    def get_run_url(self, job) -> str | None:
        return reverse("backtest-detail", args=[job.result_id]) if job.result_id else None


class BacktestLaunchSerializer(serializers.Serializer):
    """What the launch form asks; checked by the service (every bad field at once, 422)."""

    strategy = serializers.CharField(
        max_length=80, help_text="A strategy kind (see /strategy-kinds/) or a configured strategy's id"
    )
    params = serializers.DictField(required=False, help_text="name: value, as the kind's param schema says; left out: defaults")
    symbols = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=50, help_text="Markets, e.g. BTC/USDT"
    )
    timeframe = serializers.CharField(max_length=4, required=False, help_text="1m ... 1d (default: the strategy's, else 1h)")
    start = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="ISO date or time, UTC")
    end = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="Exclusive")
    initial_balance = serializers.CharField(max_length=40, required=False, help_text="Quote currency (default 10000)")
    fee_pct = serializers.CharField(max_length=40, required=False, help_text="% of each order's value (default 0.1)")
    slippage_bps = serializers.CharField(max_length=40, required=False, help_text="Basis points (default 0)")
    stop_loss_pct = serializers.CharField(max_length=40, required=False, allow_blank=True)
    take_profit_pct = serializers.CharField(max_length=40, required=False, allow_blank=True)
    trailing_stop_pct = serializers.CharField(max_length=40, required=False, allow_blank=True)


class BacktestRunFilter(DeskFilterSet):
    strategy = IdFilter(field_name="strategy_id")

    class Meta:
        model = BacktestRun
        fields = ["strategy", "kind", "timeframe"]


class BacktestJobFilter(DeskFilterSet):
    class Meta:
        model = BacktestJob
        fields = ["status"]


LAUNCH_EXAMPLE = OpenApiExample(
    "An EMA cross on BTC/USDT, January 2025",
    request_only=True,
    value={
        "strategy": "ema_cross",
        "params": {"fast": 9, "slow": 21},
        "symbols": ["BTC/USDT"],
        "timeframe": "1h",
        "start": "2025-01-01",
        "end": "2025-02-01",
        "initial_balance": "10000",
        "fee_pct": "0.1",
    },
)
JOB_EXAMPLE = OpenApiExample(
    "Queued",
    response_only=True,
    status_codes=["202"],
    value={
        "id": 7,
        "status": "queued",
        "progress": 0,
        "stage": "waiting for a research worker",
        "error": "",
        "request": {"strategy": "ema_cross", "symbols": ["BTC/USDT"], "timeframe": "1h"},
        "strategy": None,
        "run": None,
        "run_url": None,
        "created_at": "2025-02-01T10:00:00Z",
        "started_at": None,
        "finished_at": None,
    },
)


class BacktestViewSet(viewsets.ReadOnlyModelViewSet):
    """Backtest runs you may see (yours, your accounts' strategies'), newest first."""

    filterset_class = BacktestRunFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self):
        return backtest_runs_visible_to(user=self.request.user)

    def get_serializer_class(self):
        return BacktestRunDetailSerializer if self.action == "retrieve" else BacktestRunSerializer

    @extend_schema(
        request=BacktestLaunchSerializer,
        responses={202: BacktestJobSerializer},
        parameters=[IDEMPOTENCY],
        examples=[LAUNCH_EXAMPLE, JOB_EXAMPLE],
        summary="Launch a backtest: queued on the research workers; follow the job for its progress and run",
    )
    def create(self, request):
        def run():
            body = BacktestLaunchSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            job = backtest_job_submit(actor=request.user, values=body.validated_data, via=Via.API)
            return Response(BacktestJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, run)


class BacktestJobViewSet(viewsets.ReadOnlyModelViewSet):
    """Backtest jobs: queued, running (progress 0-100), done (with its run) or failed (why)."""

    serializer_class = BacktestJobSerializer
    filterset_class = BacktestJobFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self):
        return backtest_jobs_visible_to(user=self.request.user)
