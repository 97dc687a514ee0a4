"""The people of the operator tests: a trader and a viewer who are members of the account, and a
trader who is not (a stranger). Roles are the groups apps.exchanges.roles reads."""

from decimal import Decimal

from django.contrib.auth.models import Group, User

from apps.exchanges.models import AccountMembership
from apps.trading.models import Fill, Order, Position

SIM_STATUS = {
    "NEW": "open",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
}


def person_make(username: str, *, role: str, accounts=()) -> User:
    user = User.objects.create_user(username=username, password="x" * 12)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    for account in accounts:
        AccountMembership.objects.create(account=account, user=user)
    return user


def people_make(account) -> dict[str, User]:
    return {
        "trader": person_make("tina", role="trader", accounts=[account]),
        "viewer": person_make("victor", role="viewer", accounts=[account]),
        "stranger": person_make("sam", role="trader"),
    }


def books_agree_with_the_exchange(sim, account, api_key: str) -> None:
    """Every order the exchange has is ours with the same status, each client_order_id once, and
    every position is the sum of its fills."""
    on_exchange = list(sim.orders(api_key))
    ids = [order.client_order_id for order in on_exchange]
    assert len(ids) == len(set(ids)), f"a client_order_id was booked twice: {ids}"
    ours = {order.client_order_id: order.status for order in Order.objects.filter(account=account).exclude(venue_order_id="")}
    assert ours == {order.client_order_id: SIM_STATUS[order.status] for order in on_exchange}
    positions_are_their_fills(account)


def positions_are_their_fills(account) -> None:
    for position in Position.objects.filter(account=account).select_related("market"):
        held = Decimal(0)
        for fill in Fill.objects.filter(order__account=account, order__market=position.market).select_related("order"):
            fee_in_base = fill.fee if fill.fee_currency == position.market.base else Decimal(0)
            held += fill.amount - fee_in_base if fill.order.side == "buy" else -fill.amount
        assert position.amount == held, f"{position.market.symbol}: position {position.amount} != fills {held}"
