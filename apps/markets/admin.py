from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.exchanges.errors import ExchangeCallError
from apps.markets.models import Candle, CollectorStatus, Exchange, Market
from apps.markets.services import MarketNotOfferedError, market_spec_fetch, timeframes_offered


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "ccxt_id", "api_url")
    search_fields = ("name", "code")


class MarketForm(forms.ModelForm):
    """Checks the symbol with the exchange and copies its precision and minimums."""

    class Meta:
        model = Market
        fields = ("exchange", "symbol", "active")

    def clean(self):
        cleaned = super().clean()
        exchange, symbol = cleaned.get("exchange"), (cleaned.get("symbol") or "").strip().upper()
        if not exchange or not symbol:
            return cleaned
        cleaned["symbol"] = symbol
        try:
            self.exchange_spec = market_spec_fetch(exchange=exchange, symbol=symbol)
        except MarketNotOfferedError as exc:
            self.add_error("symbol", str(exc))
        except ExchangeCallError as exc:
            self.add_error(
                None,
                f"Could not check {symbol} with {exchange.name} ({exc.error_class}): {exc}. "
                "Nothing was saved; try again when the exchange answers.",
            )
        return cleaned

    def save(self, commit=True):
        for name, value in getattr(self, "exchange_spec", {}).items():
            setattr(self.instance, name, value)
        return super().save(commit)


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    form = MarketForm
    list_display = ("symbol", "exchange", "base", "quote", "price_precision", "amount_precision", "min_notional", "active")
    list_filter = ("exchange", "active", "quote")
    search_fields = ("symbol", "base", "quote")
    readonly_fields = ("base", "quote", "price_precision", "amount_precision", "min_notional", "taker_fee")

    def get_fields(self, request, obj=None):
        return ("exchange", "symbol", "active", *self.readonly_fields)


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ("market", "timeframe", "open_time", "open", "high", "low", "close", "volume")
    list_filter = ("timeframe", "market")
    search_fields = ("market__symbol",)
    date_hierarchy = "open_time"
    list_select_related = ("market", "market__exchange")
    show_full_result_count = False  # counting millions of candles on every page is slow

    def has_add_permission(self, request):
        return False  # candles come from the exchange

    def has_change_permission(self, request, obj=None):
        return False


class CollectorStatusForm(forms.ModelForm):
    class Meta:
        model = CollectorStatus
        fields = ("market", "timeframe", "active")

    def clean(self):
        cleaned = super().clean()
        market, timeframe = cleaned.get("market"), cleaned.get("timeframe")
        if market and timeframe:
            offered = timeframes_offered(exchange=market.exchange)
            if timeframe not in offered or timeframe not in TIMEFRAME_SECONDS:
                choices = ", ".join(t for t in offered if t in TIMEFRAME_SECONDS)
                self.add_error(
                    "timeframe", f"{market.exchange.name} does not offer {timeframe} candles. Choose one of: {choices}"
                )
        return cleaned


@admin.register(CollectorStatus)
class CollectorStatusAdmin(admin.ModelAdmin):
    form = CollectorStatusForm
    list_display = (
        "__str__",
        "active",
        "freshness",
        "last_candle_time",
        "last_success_at",
        "candles_stored",
        "consecutive_errors",
        "last_error_class",
    )
    list_filter = ("active", "timeframe", "last_error_class", "market__exchange")
    search_fields = ("market__symbol",)
    readonly_fields = (
        "last_candle_time",
        "last_success_at",
        "last_error_at",
        "last_error_class",
        "last_error",
        "consecutive_errors",
        "error_counts",
        "candles_stored",
    )
    list_select_related = ("market",)

    @admin.display(description="freshness")
    def freshness(self, obj):
        age = obj.data_age(timezone.now())
        if age is None:
            return format_html('<span style="color:#888">no data</span>')
        color = "#1a7f37" if obj.is_fresh() else "#cf222e"
        return format_html('<span style="color:{}">{}s old</span>', color, int(age.total_seconds()))
