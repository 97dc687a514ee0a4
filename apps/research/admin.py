"""Generated strategies in the admin: each search with its candidates' scores, read-only (the
survivors are Strategies, edited and started in the strategy admin)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.exchanges.admin_access import AccountScopedAdmin
from apps.research.models import GeneratedCandidate, StrategySearch


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
