from django.contrib import admin

from apps.exchanges.admin_access import AccountScopedAdmin
from apps.trading.models import Balance, Fill, LastPrice, Order, OrderEvent, PaperSettings, PortfolioSnapshot, Position, Signal


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
    list_display = ("created_at", "client_order_id", "venue_order_id", "account", "market", "side", "type", "amount", "filled",
                    "average_price", "status", "reason")
    list_filter = ("status", "side", "account", "market")
    search_fields = ("client_order_id", "venue_order_id")
    inlines = (OrderEventInline, FillInline)


@admin.register(Position)
class PositionAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = ("account", "market", "side", "amount", "average_entry", "realized_pnl", "unrealized_pnl", "fees",
                    "stop_loss", "take_profit", "trailing_stop_pct", "protection")
    list_filter = ("account", "market")

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
