"""Protective exits (stop-loss, take-profit, trailing stop), emulated by the desk: the
simulated exchange has no stop orders, so each new price (ticker poll, candle close) is checked
and a hit sends a market exit through the same risk path as any closing order."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.trading import selectors
from apps.trading.models import LastPrice, Order, Position, Signal
from apps.trading.services.positions import positions_mark
from apps.trading.services.signals import signal_create


def protective_trigger(position: Position, price: Decimal) -> str | None:
    """Which exit the price hits, if any (pure; the order of checks = the order of priority)."""
    if position.stop_loss is not None and price <= position.stop_loss:
        return f"stop-loss {position.stop_loss} hit at {price}"
    if position.trailing_stop_pct and position.high_water:
        trail = position.high_water * (1 - position.trailing_stop_pct / 100)
        if price <= trail:
            return f"trailing stop {position.trailing_stop_pct}% below high {position.high_water} (= {trail:.8f}) hit at {price}"
    if position.take_profit is not None and price >= position.take_profit:
        return f"take-profit {position.take_profit} hit at {price}"
    return None


def protective_exits_check(*, market_id: int, price: Decimal) -> list[Signal]:
    from apps.trading.services.placement import signal_execute

    signals = []
    tradable = Position.objects.filter(market_id=market_id).tradable()  # dust cannot be sold: nothing to protect
    for position in tradable.select_related("market", "strategy"):
        trigger = protective_trigger(position, price)
        if trigger is None or selectors.amount_being_sold(account=position.account_id, market=position.market) > 0:
            continue
        now = timezone.now()
        signal = signal_create(
            strategy=position.strategy,
            account_id=position.account_id,
            market_id=market_id,
            candle_time=now,
            action="protective_exit",
            side="sell",
            intent="close",
            price=price,
            source=Signal.Source.PROTECTIVE,
            reason=f"protective exit (emulated by the desk): {trigger}",
            key=f"x{position.pk}:{now.timestamp():.6f}",
        )
        signal_execute(signal_id=signal.pk)
        signals.append(signal)
    return signals


def price_record(*, market_id: int, price: Decimal, at=None) -> None:
    LastPrice.objects.update_or_create(market_id=market_id, defaults={"price": price, "at": at or timezone.now()})


def price_updated(*, market_id: int) -> dict:
    """Everything a new price drives: P&L marks, resting paper limits, protective exits."""
    price = selectors.last_price(market=market_id)
    if price is None:
        return {"price": None}
    marked = positions_mark(market_id=market_id, price=price)
    matched = paper_limits_match(market_id=market_id, price=price)
    exits = protective_exits_check(market_id=market_id, price=price)
    return {"price": str(price), "marked": marked, "paper_fills": matched, "exits": len(exits)}


def paper_limits_match(*, market_id: int, price: Decimal) -> int:
    """Resting paper limit orders fill once the price crosses them."""
    from apps.trading.services.orders import order_report_apply
    from apps.trading.venues import PaperVenue

    matched = 0
    resting = Order.objects.filter(
        market_id=market_id, account__mode="paper", type=Order.Type.LIMIT, status__in=["open", "partially_filled"]
    ).select_related("account", "market")
    for order in resting:
        venue = PaperVenue(order.account)
        if venue.crosses(order, price):
            with transaction.atomic():
                report = venue.filled_report(order, order.venue_order_id, order.price)
                order_report_apply(order_id=order.pk, report=report, cause=f"paper limit crossed at {price}")
            matched += 1
    return matched
