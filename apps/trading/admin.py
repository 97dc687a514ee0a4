from django import forms
from django.contrib import admin, messages

from apps.common.admin_audit import AuditedAdminMixin
from apps.common.audit import Via
from apps.common.errors import ApplicationError
from apps.exchanges.admin import ExchangeAccountAdmin
from apps.exchanges.admin_access import AccountScopedAdmin
from apps.exchanges.models import ExchangeAccount
from apps.trading.models import (
    Balance,
    Fill,
    HoldingsBaseline,
    HoldingsState,
    LastPrice,
    Order,
    OrderEvent,
    PaperSettings,
    PortfolioSnapshot,
    Position,
    Signal,
)
from apps.trading.services.external import (
    external_position_adopt,
    external_position_ignore,
    holdings_baseline_validate,
)
from apps.trading.services.operator import account_flatten, order_cancel, position_close


def operator_action_run(model_admin, request, queryset, act, done_message, *, partial=lambda result: False) -> None:
    """Run an operator service on each selected row; one message per row, in a trader's words
    (a refusal is an error message, never a traceback; a partly done one a warning)."""
    for obj in queryset:
        try:
            result = act(obj)
        except ApplicationError as error:
            model_admin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
        else:
            level = messages.WARNING if partial(result) else messages.SUCCESS
            model_admin.message_user(request, done_message(obj, result), level)


def _reason(request, verb: str) -> str:
    return f"{verb} from the admin by {request.user}"


class ReadOnlyAdmin(admin.ModelAdmin):
    """The desk writes these; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "cause")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class FillInline(admin.TabularInline):
    model = Fill
    fields = ("traded_at", "venue_trade_id", "price", "amount", "fee", "fee_currency")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Signal)
class SignalAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = ("candle_time", "strategy", "market", "side", "intent", "price", "source", "status", "rejection_reason")
    list_filter = ("status", "side", "intent", "source", "strategy")


@admin.register(Order)
class OrderAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "client_order_id",
        "venue_order_id",
        "account",
        "market",
        "side",
        "type",
        "amount",
        "filled",
        "average_price",
        "status",
        "reason",
    )
    list_filter = ("status", "side", "account", "market")
    search_fields = ("client_order_id", "venue_order_id")
    inlines = (OrderEventInline, FillInline)
    actions = ("cancel",)

    @admin.action(description="Cancel the selected orders")
    def cancel(self, request, queryset):
        operator_action_run(
            self,
            request,
            queryset,
            lambda order: order_cancel(actor=request.user, via=Via.ADMIN, order_id=order.pk, reason=_reason(request, "canceled")),
            lambda order, result: f"{result.client_order_id}: {result.get_status_display().lower()}",
            partial=lambda result: result.status == "canceling",
        )


class PositionStateFilter(admin.SimpleListFilter):
    """Open / dust / closed by the one definition (Position.objects.open())."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("open", "Open"), ("dust", "Dust (cannot be sold)"), ("closed", "Closed"))

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.open()
        if self.value() == "dust":
            return queryset.dust()
        if self.value() == "closed":
            return queryset.filter(amount__lte=0)
        return queryset


@admin.register(Position)
class PositionAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = (
        "account",
        "market",
        "state",
        "origin",
        "amount",
        "average_entry",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "stop_loss",
        "take_profit",
        "trailing_stop_pct",
        "protection",
    )
    list_filter = (PositionStateFilter, "origin", "account", "market")
    list_select_related = ("account", "market")

    actions = ("close", "adopt", "ignore")

    @admin.action(description="Adopt the selected external positions (strategies and protective exits may trade them)")
    def adopt(self, request, queryset):
        operator_action_run(
            self,
            request,
            queryset,
            lambda position: external_position_adopt(actor=request.user, via=Via.ADMIN, position_id=position.pk),
            lambda position, adopted: f"{adopted.market.symbol}: {adopted.amount.normalize():f} adopted by the desk",
        )

    @admin.action(description="Ignore the selected external positions (counted as held outside the desk)")
    def ignore(self, request, queryset):
        operator_action_run(
            self,
            request,
            queryset,
            lambda position: external_position_ignore(actor=request.user, via=Via.ADMIN, position_id=position.pk),
            lambda position, ignored: f"{position.market.symbol}: {position.amount.normalize():f} moved to the external holdings",
        )

    @admin.action(description="Close the selected positions (market exit through the risk rules)")
    def close(self, request, queryset):
        operator_action_run(
            self,
            request,
            queryset,
            lambda position: position_close(
                actor=request.user, via=Via.ADMIN, position_id=position.pk, reason=_reason(request, "closed")
            ),
            lambda position, closing: closing.describe(),
        )

    @admin.display(description="side")
    def state(self, obj):
        """Dust is shown as dust, not as a position."""
        if obj.is_open:
            return obj.get_side_display()
        return "dust" if obj.is_dust else "closed"

    @admin.display(description="protective exits")
    def protection(self, obj):
        return "emulated by the desk" if (obj.stop_loss or obj.take_profit or obj.trailing_stop_pct) else "-"


@admin.register(Fill)
class FillAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_paths = ("order__account",)
    list_display = ("traded_at", "order", "venue_trade_id", "price", "amount", "fee", "fee_currency")


@admin.register(Balance)
class BalanceAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = ("account", "asset", "free", "used", "updated_at")
    list_filter = ("account",)


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = ("taken_at", "account", "equity", "cash", "positions_value", "realized_pnl", "unrealized_pnl")
    list_filter = ("account",)


admin.site.register(LastPrice, ReadOnlyAdmin)


@admin.register(PaperSettings)
class PaperSettingsAdmin(AccountScopedAdmin, admin.ModelAdmin):
    list_display = ("account", "fee_rate", "slippage_bps")


admin.site.unregister(ExchangeAccount)


@admin.register(ExchangeAccount)
class TradingAccountAdmin(ExchangeAccountAdmin):
    """The accounts admin of apps.exchanges, plus what trading does to an account (flatten):
    exchanges sits below trading and cannot call it."""

    actions = (*(ExchangeAccountAdmin.actions or ()), "flatten")

    @admin.action(description="Flatten the selected accounts: cancel every open order, close every position")
    def flatten(self, request, queryset):
        operator_action_run(
            self,
            request,
            queryset,
            lambda account: account_flatten(
                actor=request.user, via=Via.ADMIN, account_id=account.pk, reason=_reason(request, "flattened")
            ),
            lambda account, done: f"{account.name} flattened: {done.summary()}",
            partial=lambda done: bool(done.failed),
        )


class HoldingsBaselineForm(forms.ModelForm):
    class Meta:
        model = HoldingsBaseline
        fields = ("account", "asset", "amount")

    def clean(self):
        cleaned = super().clean()
        for name, message in holdings_baseline_validate(asset=cleaned.get("asset"), amount=cleaned.get("amount")).items():
            if name not in self.errors:
                self.add_error(name, message)
        return cleaned


@admin.register(HoldingsBaseline)
class HoldingsBaselineAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    """What each account held outside the desk: the holdings reconciliation subtracts it from the
    exchange's balances. Set by the first reconciliation; corrected here (audited)."""

    form = HoldingsBaselineForm
    list_display = ("account", "asset", "amount", "updated_at")
    list_filter = ("account",)


@admin.register(HoldingsState)
class HoldingsStateAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = (
        "account",
        "last_success_at",
        "gate_closed_at",
        "gate_reason",
        "consecutive_failures",
        "failing_alerted",
        "last_error",
    )
