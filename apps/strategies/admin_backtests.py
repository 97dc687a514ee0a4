from django.contrib import admin
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html

from apps.strategies.backtests.formatting import metric_text
from apps.strategies.backtests.selectors import backtest_runs_visible_to
from apps.strategies.models import BacktestRun


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "kind",
        "strategy",
        "market_list",
        "timeframe",
        "data_start",
        "data_end",
        "total_return",
        "sharpe",
        "max_drawdown",
        "trade_count",
        "sweep",
        "report_link",
    )
    list_filter = ("kind", "timeframe", "is_best")
    search_fields = ("kind", "=sweep_id", "data_hash")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in BacktestRun._meta.fields] + ["report_link"]
    exclude = ("equity_curve", "trades")

    def get_queryset(self, request):
        return super().get_queryset(request) & backtest_runs_visible_to(user=request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such backtest among yours.")
        return obj

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="markets")
    def market_list(self, obj):
        return ", ".join(obj.symbols)

    @admin.display(description="return")
    def total_return(self, obj):
        return metric_text(obj.metrics, "total_return_pct")

    @admin.display(description="sharpe")
    def sharpe(self, obj):
        return metric_text(obj.metrics, "sharpe")

    @admin.display(description="max DD")
    def max_drawdown(self, obj):
        return metric_text(obj.metrics, "max_drawdown_pct")

    @admin.display(description="trades")
    def trade_count(self, obj):
        return metric_text(obj.metrics, "trades")

    @admin.display(description="sweep")
    def sweep(self, obj):
        if not obj.sweep_id:
            return ""
        test = metric_text(obj.test_metrics, obj.sweep_metric) if obj.sweep_metric else ""
        return f"{'★ ' if obj.is_best else ''}{str(obj.sweep_id)[:8]} test {obj.sweep_metric} {test}"

    @admin.display(description="report")
    def report_link(self, obj):
        if not obj.report_path:
            return "—"
        return format_html('<a href="{}" target="_blank">report</a>', reverse("backtest-report", args=[obj.pk]))
