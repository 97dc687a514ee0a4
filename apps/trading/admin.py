from django.contrib import admin

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
class SignalAdmin(ReadOnlyAdmin):
    list_display = ("candle_time", "strategy", "market", "side", "intent", "price", "source", "status", "rejection_reason")
    list_filter = ("status", "side", "intent", "source", "strategy")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "client_order_id", "venue_order_id", "account", "market", "side", "type", "amount", "filled",
                    "average_price", "status", "reason")
    list_filter = ("status", "side", "account", "market")
    search_fields = ("client_order_id", "venue_order_id")
    inlines = (OrderEventInline, FillInline)


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
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("account", "market", "state", "amount", "average_entry", "realized_pnl", "unrealized_pnl", "fees",
                    "stop_loss", "take_profit", "trailing_stop_pct", "protection")
    list_filter = (PositionStateFilter, "account", "market")
    list_select_related = ("account", "market")

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
class FillAdmin(ReadOnlyAdmin):
    list_display = ("traded_at", "order", "venue_trade_id", "price", "amount", "fee", "fee_currency")


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ("account", "asset", "free", "used", "updated_at")
    list_filter = ("account",)


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "account", "equity", "cash", "positions_value", "realized_pnl", "unrealized_pnl")
    list_filter = ("account",)


admin.site.register(LastPrice, ReadOnlyAdmin)


@admin.register(PaperSettings)
class PaperSettingsAdmin(admin.ModelAdmin):
    list_display = ("account", "fee_rate", "slippage_bps")
