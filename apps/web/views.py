"""Pages (login required) and the candles JSON the market page draws. Thin: reads are selectors."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from apps.common.events import CANDLES
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.models import Market
from apps.markets.selectors import candles_recent
from apps.web import selectors

CHART_TIMEFRAMES = ["1m", "15m"]
DEFAULT_CANDLES = 500


@login_required
def dashboard(request):
    """Markets are shared (public exchange data, one copy for all); accounts are the user's own."""
    context = {"rows": selectors.markets_overview(), "accounts": selectors.accounts_overview(user=request.user)}
    return render(request, "web/dashboard.html", context)


@login_required
def market_page(request, ref: str):
    market = selectors.market_by_ref(ref=ref)
    if market is None:
        raise Http404(f"No market {ref!r}.")
    timeframe = request.GET.get("tf", "1m")
    if timeframe not in TIMEFRAME_SECONDS:
        known = ", ".join(CHART_TIMEFRAMES)
        context = {"message": f"Unknown timeframe {timeframe!r}. Pick one of {known}.", "market": market}
        return render(request, "web/error.html", context, status=400)
    config = {
        "marketId": market.pk,
        "symbol": market.symbol,
        "timeframe": timeframe,
        "periodSeconds": TIMEFRAME_SECONDS[timeframe],
        "topic": CANDLES.name(market=market.slug, tf=timeframe),
        "candlesUrl": reverse("market-candles", args=[market.pk]),
        "wsPath": "/ws/events/",
        "loginUrl": reverse("login"),
        "priceDecimals": _decimals(market.price_precision),
    }
    context = {
        "market": market,
        "timeframe": timeframe,
        "timeframes": CHART_TIMEFRAMES if timeframe in CHART_TIMEFRAMES else [*CHART_TIMEFRAMES, timeframe],
        "markets": Market.objects.filter(active=True).select_related("exchange"),
        "config": config,
    }
    return render(request, "web/market.html", context)


def market_candles(request, ref: str):
    """GET /api/markets/<id or slug>/candles?tf=1m&limit=500 -> history + where live events start."""
    if not request.user.is_authenticated:
        return _error("Log in to read market data.", 401)
    market = selectors.market_by_ref(ref=ref)
    if market is None:
        return _error(f"No market {ref!r}.", 404)
    timeframe = request.GET.get("tf", "1m")
    if timeframe not in TIMEFRAME_SECONDS:
        return _error(f"Unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAME_SECONDS)}.", 400)
    try:
        limit = int(request.GET.get("limit", DEFAULT_CANDLES))
    except ValueError:
        return _error("limit must be a whole number of candles.", 400)
    if not 1 <= limit <= selectors.CANDLE_LIMIT_MAX:
        return _error(f"limit must be between 1 and {selectors.CANDLE_LIMIT_MAX}.", 400)
    # Read the event cursor before the candles: an event recorded in between is then resent
    # by the websocket resync (the page upserts by time, so twice is harmless; never missed).
    last_event_id = selectors.event_last_id()
    candles = candles_recent(market=market, timeframe=timeframe, limit=limit)
    return JsonResponse(
        {
            "market": {"id": market.pk, "symbol": market.symbol, "exchange": market.exchange.code},
            "timeframe": timeframe,
            "last_event_id": last_event_id,
            "candles": [_candle_json(candle) for candle in candles],
            "collector": selectors.collector_for(market=market, timeframe=timeframe),
        }
    )


def _candle_json(candle) -> dict:
    """Prices as strings (exact Decimals); the chart converts for drawing only."""
    return {
        "time": int(candle.open_time.timestamp()),
        "open": str(candle.open),
        "high": str(candle.high),
        "low": str(candle.low),
        "close": str(candle.close),
        "volume": str(candle.volume),
    }


def _decimals(tick) -> int:
    exponent = tick.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 2


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def password_reset_off(request):
    """Shown instead of the reset form when the desk has no mail server (EMAIL_URL unset)."""
    message = (
        "Password reset by email is off on this desk: no mail server is configured. "
        "An administrator can set a new password in the admin or with `python manage.py changepassword USERNAME`."
    )
    return render(request, "web/error.html", {"message": message}, status=404)
