"""Fills, applied once each: unique (order, venue_trade_id), inserted in the transaction that
moves the position, so a fill seen twice (reply, look-up, reconciliation) counts once."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.common.events import event_record
from apps.exchanges.models import ExchangeAccount
from apps.trading.models import Fill, Order
from apps.trading.services.positions import balances_apply_fill, position_apply_fill
from apps.trading.venues import VenueTrade


def fill_apply(*, order: Order, trade: VenueTrade) -> Fill | None:
    """Inside the caller's transaction, with the order locked. None when already applied."""
    if Fill.objects.filter(order=order, venue_trade_id=trade.trade_id).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a concurrent duplicate only undoes itself
            fill = Fill.objects.create(
                order=order,
                venue_trade_id=trade.trade_id,
                price=trade.price,
                amount=trade.amount,
                fee=trade.fee,
                fee_currency=trade.fee_currency,
                traded_at=trade.at,
            )
    except IntegrityError:
        return None
    order.filled += trade.amount
    order.average_price = _average(order)
    position_apply_fill(order=order, fill=fill)
    if order.account.mode == ExchangeAccount.Mode.PAPER:
        balances_apply_fill(order=order, fill=fill)  # the exchange keeps the others' balances
    event_record(
        "fill.applied",
        {
            "fill": fill.pk,
            "order": order.pk,
            "client_order_id": order.client_order_id,
            "side": order.side,
            "price": str(fill.price),
            "amount": str(fill.amount),
            "fee": str(fill.fee),
            "fee_currency": fill.fee_currency,
        },
        account=order.account_id,
    )
    return fill


def _average(order: Order) -> Decimal | None:
    fills = list(order.fills.values_list("price", "amount"))
    total = sum((amount for _, amount in fills), Decimal(0))
    return sum((price * amount for price, amount in fills), Decimal(0)) / total if total else None
