"""Reads for trading: prices, equity, exposure and order rates as the risk engine sees them."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from apps.engine.order_fsm import LIVE
from apps.markets.models import Candle, Market
from apps.trading.models import Balance, LastPrice, Order, PortfolioSnapshot, Position

ZERO = Decimal(0)
LIVE_STATUSES = [status.value for status in LIVE]


def last_price(*, market: Market | int) -> Decimal | None:
    """The newer of the last ticker price and the last candle close."""
    market_id = market if isinstance(market, int) else market.pk
    tick = LastPrice.objects.filter(market_id=market_id).first()
    candle = Candle.objects.filter(market_id=market_id).order_by("-open_time").values("close", "open_time", "timeframe").first()
    if tick is None:
        return candle["close"] if candle else None
    if candle is not None and candle["open_time"] > tick.at:
        return candle["close"]
    return tick.price


def account_cash(*, account, quote: str = "USDT") -> Decimal:
    balance = Balance.objects.filter(account=account, asset=quote).first()
    return balance.total if balance else ZERO


def positions_value(*, account) -> Decimal:
    """Open positions at their last marked price (marked on every new price)."""
    total = ZERO
    for amount, marked, entry in Position.objects.filter(account=account, amount__gt=0).values_list("amount", "last_price", "average_entry"):
        total += amount * (marked or entry)
    return total


def account_equity(*, account, quote: str = "USDT") -> Decimal:
    """Cash in the quote currency plus open positions at the last price."""
    return account_cash(account=account, quote=quote) + positions_value(account=account)


def equity_marks(*, account, equity: Decimal) -> tuple[Decimal, Decimal]:
    """(peak equity, equity at the start of today) from the snapshots, the current one included."""
    snapshots = PortfolioSnapshot.objects.filter(account=account)
    peak = snapshots.order_by("-equity").values_list("equity", flat=True).first()
    start_of_day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = snapshots.filter(taken_at__gte=start_of_day).order_by("taken_at").values_list("equity", flat=True).first()
    return max(peak or equity, equity), day_start if day_start is not None else equity


def live_orders(*, account, market=None):
    queryset = Order.objects.filter(account=account, status__in=LIVE_STATUSES)
    return queryset.filter(market=market) if market is not None else queryset


def market_exposure(*, account, market: Market, price: Decimal, position: Position | None = None) -> Decimal:
    """The position plus entries still in flight, in quote."""
    held = position.amount if position else ZERO
    pending = live_orders(account=account, market=market).filter(side="buy").aggregate(
        total=Sum(F("amount") - F("filled")))["total"] or ZERO
    return (held + pending) * price


def open_positions_count(*, account) -> int:
    """Markets with a position or an entry in flight."""
    held = set(Position.objects.filter(account=account, amount__gt=0, amount__gte=F("market__amount_precision"))
               .values_list("market_id", flat=True))
    opening = set(live_orders(account=account).filter(side="buy").values_list("market_id", flat=True))
    return len(held | opening)


def orders_in_last_minute(*, account=None, strategy=None) -> int:
    since = timezone.now() - timedelta(minutes=1)
    query = Q(created_at__gte=since)
    query &= Q(strategy=strategy) if strategy is not None else Q(account=account)
    return Order.objects.filter(query).count()


def order_rates(*, account, strategy=None) -> tuple[int, int]:
    """(orders of the strategy, orders of the account) created in the last minute, one query."""
    since = timezone.now() - timedelta(minutes=1)
    counts = Order.objects.filter(account=account, created_at__gte=since).aggregate(
        account=Count("id"), strategy=Count("id", filter=Q(strategy=strategy)) if strategy is not None else Count("id", filter=Q(pk__in=[])))
    return counts["strategy"], counts["account"]


def position_for(*, account, market) -> Position | None:
    return Position.objects.filter(account=account, market=market).first()


def amount_being_sold(*, account, market) -> Decimal:
    return live_orders(account=account, market=market).filter(side="sell").aggregate(
        total=Sum(F("amount") - F("filled")))["total"] or ZERO


def orders_stuck(*, older_than: timedelta, statuses: list[str]):
    return Order.objects.filter(status__in=statuses, updated_at__lt=timezone.now() - older_than)
