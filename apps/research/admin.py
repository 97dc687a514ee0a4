"""Research in the admin, read-only and scoped to the user's accounts: each generated-strategy
search with its candidates' scores (the survivors are Strategies, edited and started in the
strategy admin); the daily live-vs-backtest reports (written only by the nightly task and
`manage.py live_vs_backtest`)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.exchanges.admin_access import AccountScopedAdmin
from apps.research.models import GeneratedCandidate, LiveBacktestReport, StrategySearch


class _ReadOnly(AccountScopedAdmin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CandidateInline(admin.TabularInline):
    model = GeneratedCandidate
    fields = ("rank", "number", "generation", "strategy", "out_of_sample", "stability", "trades", "in_sample", "bias_passed")
    readonly_fields = fields
    ordering = ("rank", "number")
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).filter(rank__isnull=False)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StrategySearch)
class StrategySearchAdmin(_ReadOnly):
    list_display = ("id", "created_at", "account", "symbols", "timeframe", "count", "generations", "seed", "status")
    list_filter = ("status", "timeframe")
    readonly_fields = [field.name for field in StrategySearch._meta.fields]
    inlines = [CandidateInline]


@admin.register(GeneratedCandidate)
class GeneratedCandidateAdmin(_ReadOnly):
    list_display = (
        "number",
        "search",
        "generation",
        "rank",
        "survivor",
        "out_of_sample",
        "stability",
        "trades",
        "in_sample",
        "bias_passed",
        "status",
        "rules",
    )
    list_filter = ("status", "bias_passed", "search")
    readonly_fields = [field.name for field in GeneratedCandidate._meta.fields]
    account_paths = ("search__account",)
    list_select_related = ("search", "strategy")

    @admin.display(description="Rules")
    def rules(self, obj):
        return f"{obj.params.get('entry')} / exit {obj.params.get('exit')}"

    @admin.display(description="Strategy")
    def survivor(self, obj):
        if obj.strategy_id is None:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:strategies_strategy_change", args=[obj.strategy_id]), obj.strategy_id
        )


@admin.register(LiveBacktestReport)
class LiveBacktestReportAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_paths = ("strategy__account",)
    list_display = ("day", "strategy", "matched", "missing", "extra", "pnl_difference", "divergence", "alerted_at")
    list_filter = ("day", "strategy__account")
    search_fields = ("strategy__name",)
    list_select_related = ("strategy",)
    exclude = ("trades",)
    readonly_fields = [field.name for field in LiveBacktestReport._meta.fields if field.name != "trades"] + ["differences"]

    @admin.display(description="Missing and extra trades")
    def differences(self, obj):
        rows = [row for row in obj.trades if row["status"] != "matched"]
        if not rows:
            return "none"
        return format_html_join(
            "\n",
            "<div>{} {} {} {}: <strong>{}</strong> {} — {}</div>",
            ((r["status"], r["time"], r["market"], r["side"], r["reason_label"], r["rule"], r["detail"]) for r in rows),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
