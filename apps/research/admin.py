"""The daily live-vs-backtest reports, read-only and scoped to the user's accounts (written only
by the nightly task and `manage.py live_vs_backtest`)."""

from django.contrib import admin
from django.utils.html import format_html_join

from apps.exchanges.admin_access import AccountScopedAdmin
from apps.research.models import LiveBacktestReport


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
