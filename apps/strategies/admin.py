from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from apps.common.admin_audit import AuditedAdminMixin
from apps.common.audit import Via
from apps.common.errors import ApplicationError
from apps.engine.display import decimal_text
from apps.exchanges.admin_access import AccountScopedAdmin
from apps.strategies.forms import StrategyForm
from apps.strategies.models import PromotionPolicy, Strategy, StrategyEvaluation
from apps.strategies.services import strategy_status_set

EVALUATION_LOG_ROWS = 30

# The promotion service lives above this app (apps.research.promotion reads the performance of
# trading): research installs it when the apps are ready. (actor, strategy_id, via, reason) -> Promotion.
_promoter = None


def strategy_promoter_set(promote) -> None:
    global _promoter
    _promoter = promote


@admin.register(Strategy)
class StrategyAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    form = StrategyForm
    list_display = (
        "name",
        "kind",
        "timeframe",
        "account",
        "status",
        "stage",
        "allocation",
        "consecutive_failures",
        "failure_count",
        "last_evaluated_at",
    )
    list_filter = ("status", "stage", "kind", "timeframe", "account")
    search_fields = ("name", "kind")
    filter_horizontal = ("markets",)
    actions = ("start", "pause", "stop", "promote")
    readonly_fields = (
        "status",
        "status_reason",
        "stage",
        "stage_changed_at",
        "consecutive_failures",
        "failure_count",
        "last_error",
        "last_evaluated_at",
        "evaluation_log",
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ("name", "kind", "params", "account", "markets", "markets_top", "timeframe")}),
            (
                "Allocation and protective exits (emulated by the desk)",
                {"fields": ("allocation_type", "allocation_value", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct")},
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "Status",
                    {
                        "fields": (
                            "status",
                            "status_reason",
                            "stage",
                            "stage_changed_at",
                            "consecutive_failures",
                            "failure_count",
                            "last_error",
                            "last_evaluated_at",
                        )
                    },
                )
            )
            fieldsets.append(("Evaluation log", {"fields": ("evaluation_log",)}))
        return fieldsets

    @admin.display(description="allocation")
    def allocation(self, obj):
        value = decimal_text(obj.allocation_value)
        return f"{value} %" if obj.allocation_type == Strategy.Allocation.EQUITY_PCT else f"{value} quote"

    @admin.display(description=f"last {EVALUATION_LOG_ROWS} evaluations")
    def evaluation_log(self, obj):
        rows = obj.evaluations.select_related("market")[:EVALUATION_LOG_ROWS]
        if not rows:
            return "No evaluation yet."
        # format_html escapes each argument into a SafeString first, so numbers are formatted here
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td></tr>",
            (
                (
                    f"{e.candle_time:%Y-%m-%d %H:%M}",
                    e.market.symbol,
                    e.get_outcome_display(),
                    e.detail[:200],
                    f"{e.duration_ms:.1f}",
                )
                for e in rows
            ),
        )
        return format_html(
            "<table><tr><th>candle</th><th>market</th><th>outcome</th><th>detail</th><th>took</th></tr>{}</table>", body
        )

    def has_change_status_permission(self, request):
        """Start/pause/stop: the trader's right (editing the strategy itself is an admin's)."""
        return request.user.has_perm("strategies.change_strategy_status")

    def _set(self, request, queryset, status, verb):
        self.action_rows_check(request, queryset, "strategies.change_strategy_status")
        done = 0
        for strategy in queryset:
            try:
                strategy_status_set(
                    actor=request.user,
                    via=Via.ADMIN,
                    strategy=strategy,
                    status=status,
                    reason=f"{verb} by {request.user} from the admin",
                )
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{strategy.name}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} {'strategy' if done == 1 else 'strategies'} {verb}.", messages.SUCCESS)

    @admin.action(description="Start the selected strategies", permissions=["change_status"])
    def start(self, request, queryset):
        self._set(request, queryset, Strategy.Status.RUNNING, "started")

    @admin.action(description="Pause the selected strategies", permissions=["change_status"])
    def pause(self, request, queryset):
        self._set(request, queryset, Strategy.Status.PAUSED, "paused")

    @admin.action(description="Stop the selected strategies", permissions=["change_status"])
    def stop(self, request, queryset):
        self._set(request, queryset, Strategy.Status.STOPPED, "stopped")

    @admin.action(description="Promote the selected strategies to their next stage (approve)", permissions=["change_status"])
    def promote(self, request, queryset):
        self.action_rows_check(request, queryset, "strategies.change_strategy_status")
        for strategy in queryset:
            try:
                done = _promoter(
                    actor=request.user, strategy_id=strategy.pk, via=Via.ADMIN, reason=f"approved by {request.user} in the admin"
                )
                self.message_user(request, done.describe(), messages.SUCCESS)
            except ApplicationError as error:
                self.message_user(request, f"{strategy.name}: {error.message}", messages.ERROR)


@admin.register(PromotionPolicy)
class PromotionPolicyAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    """An account's promotion rules and its limit of running strategies; automatic promotion to
    live is an admin's choice here (traders see the rules, admins change them)."""

    list_display = (
        "account",
        "paper_days",
        "min_trades",
        "min_sharpe",
        "max_drawdown_pct",
        "max_divergence_pct",
        "max_active_strategies",
        "auto_live",
    )

    def get_changeform_initial_data(self, request):
        return {**PromotionPolicy.defaults(), **super().get_changeform_initial_data(request)}


@admin.register(StrategyEvaluation)
class StrategyEvaluationAdmin(AccountScopedAdmin, admin.ModelAdmin):
    list_display = ("candle_time", "strategy", "market", "outcome", "detail", "duration_ms")
    list_filter = ("outcome", "strategy")
    readonly_fields = [field.name for field in StrategyEvaluation._meta.fields]
    account_paths = ("strategy__account",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from apps.strategies import admin_backtests  # noqa: E402,F401  (BacktestRun admin)
