"""Positions from fills. Spot, long only. The rules a trader can check by hand:

- amount: + bought amount (less a fee charged in the base asset), - sold amount;
- average_entry: the amount-weighted average buy price of what is held (fees excluded);
- fees: every fee, in quote (a base-asset fee valued at its fill price);
- realized_pnl: sum over sells of (sell price - average entry) x amount, minus every fee.
"""

from decimal import Decimal

from django.db import transaction

from apps.common.events import event_record
from apps.trading.models import Balance, Fill, Order, Position

ZERO = Decimal(0)


def fee_split(*, fill: Fill, base: str, quote: str) -> tuple[Decimal, Decimal]:
    """(fee in quote, fee taken from the base amount)."""
    if fill.fee_currency == base:
        return fill.fee * fill.price, fill.fee
    if fill.fee_currency in (quote, ""):
        return fill.fee, ZERO
    return ZERO, ZERO  # a third currency (e.g. BNB) is recorded on the fill, not converted here


def position_apply_fill(*, order: Order, fill: Fill) -> Position:
    market = order.market
    position, _ = Position.objects.select_for_update().get_or_create(
        account_id=order.account_id, market=market, side=Position.PositionSide.LONG
    )
    fee_quote, fee_base = fee_split(fill=fill, base=market.base, quote=market.quote)
    was_open = position.amount > 0
    if order.side == "buy":
        if not was_open and order.type != Order.Type.ADJUST:
            position.origin = Position.Origin.DESK  # the desk's own entry
        _buy(position, fill, fee_base)
        if order.strategy_id:
            position.strategy_id = order.strategy_id
        _protect(position, order, was_open)
    else:
        _sell(position, fill)
        if not position.is_open:
            position.origin = Position.Origin.DESK  # nothing external left to keep apart
    position.fees += fee_quote
    position.realized_pnl -= fee_quote
    position.last_price = fill.price
    position.unrealized_pnl = (fill.price - position.average_entry) * position.amount
    position.save()
    event_record("position.changed", position_payload(position), account=order.account_id)
    return position


def _buy(position: Position, fill: Fill, fee_base: Decimal) -> None:
    held = position.amount
    position.average_entry = (held * position.average_entry + fill.amount * fill.price) / (held + fill.amount)
    position.amount = held + fill.amount - fee_base


def _sell(position: Position, fill: Fill) -> None:
    closing = min(fill.amount, position.amount)
    position.realized_pnl += (fill.price - position.average_entry) * closing
    position.amount -= closing
    if position.amount <= 0:
        position.amount = ZERO
        position.average_entry = ZERO
    position.last_price = fill.price
    if not position.is_open:
        # Closed, or dust (under one exchange step or the minimum notional: a fee taken in the
        # base asset leaves some): it cannot be sold, so it no longer carries protective exits.
        position.stop_loss = position.take_profit = position.trailing_stop_pct = position.high_water = None


def _protect(position: Position, order: Order, was_open: bool) -> None:
    """Protective levels from the signal, else from the strategy's percentages."""
    signal, strategy = order.signal, order.strategy
    entry = position.average_entry
    if signal is not None and signal.stop_loss is not None:
        position.stop_loss = signal.stop_loss
    elif strategy is not None and strategy.stop_loss_pct:
        position.stop_loss = entry * (1 - strategy.stop_loss_pct / 100)
    if signal is not None and signal.take_profit is not None:
        position.take_profit = signal.take_profit
    elif strategy is not None and strategy.take_profit_pct:
        position.take_profit = entry * (1 + strategy.take_profit_pct / 100)
    if strategy is not None and strategy.trailing_stop_pct:
        position.trailing_stop_pct = strategy.trailing_stop_pct
    position.high_water = max(position.high_water or entry, entry) if was_open else entry


def position_payload(position: Position) -> dict:
    return {
        "position": position.pk,
        "market": position.market_id,
        "side": position.side,
        "amount": str(position.amount),
        "average_entry": str(position.average_entry),
        "realized_pnl": str(position.realized_pnl),
        "unrealized_pnl": str(position.unrealized_pnl),
        "fees": str(position.fees),
        "stop_loss": _s(position.stop_loss),
        "take_profit": _s(position.take_profit),
        "trailing_stop_pct": _s(position.trailing_stop_pct),
        "protection": "emulated by the desk",
        "origin": position.origin,
    }


def _s(value):
    return None if value is None else str(value)


def balances_apply_fill(*, order: Order, fill: Fill) -> None:
    market = order.market
    fee_quote, fee_base = fee_split(fill=fill, base=market.base, quote=market.quote)
    cost = fill.amount * fill.price
    sign = 1 if order.side == "buy" else -1
    _balance_add(order.account_id, market.quote, -sign * cost - fee_quote)
    _balance_add(order.account_id, market.base, sign * fill.amount - fee_base)


def _balance_add(account_id: int, asset: str, delta: Decimal) -> None:
    balance, _ = Balance.objects.select_for_update().get_or_create(account_id=account_id, asset=asset)
    balance.free += delta
    balance.save()


def positions_mark(*, market_id: int, price: Decimal) -> int:
    """Unrealized P&L at a new price (and the trailing stop's high-water mark). A price that
    moved is a position.changed event: the pages' P&L follows the ticker, not only the candles."""
    changed = 0
    with transaction.atomic():
        for position in Position.objects.select_for_update().filter(market_id=market_id, amount__gt=0):
            moved = position.last_price != price
            position.last_price = price
            position.unrealized_pnl = (price - position.average_entry) * position.amount
            if position.trailing_stop_pct and price > (position.high_water or ZERO):
                position.high_water = price
            position.save(update_fields=["last_price", "unrealized_pnl", "high_water", "updated_at"])
            if moved:
                event_record("position.changed", position_payload(position), account=position.account_id)
            changed += 1
    return changed
