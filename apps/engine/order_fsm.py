"""The one order state machine: every status change in the desk goes through `transition`.

UNKNOWN means "the create request was sent and we do not know whether the exchange booked
it" (a timeout, a dropped connection, a 5xx). Only a look-up by client_order_id leaves it.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTING = "submitting"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELING = "canceling"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


S = OrderStatus
_BOOKED = {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # NEW -> REJECTED/CANCELED: refused or withdrawn by the desk before anything was sent.
    S.NEW: frozenset({S.SUBMITTING, S.REJECTED, S.CANCELED}),
    S.SUBMITTING: frozenset(_BOOKED | {S.REJECTED, S.UNKNOWN}),
    # UNKNOWN -> SUBMITTING: a resend, only once the look-ups proved it was never booked.
    S.UNKNOWN: frozenset(_BOOKED | {S.REJECTED, S.SUBMITTING}),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELING, S.CANCELED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELING, S.CANCELED, S.EXPIRED}),
    # A cancel can lose the race against a fill.
    S.CANCELING: frozenset({S.CANCELED, S.FILLED, S.PARTIALLY_FILLED, S.OPEN, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
# Orders that may still trade (they count against limits and block a second entry).
LIVE = frozenset({S.NEW, S.SUBMITTING, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.CANCELING})


class IllegalTransitionError(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"an order cannot go from {current} to {target}")
        self.current, self.target = current, target


def can_transition(current: str, target: str) -> bool:
    return OrderStatus(target) in TRANSITIONS[OrderStatus(current)]


def transition(current: str, target: str) -> OrderStatus:
    """The new status, or IllegalTransitionError."""
    if not can_transition(current, target):
        raise IllegalTransitionError(current, target)
    return OrderStatus(target)


def status_from_exchange(*, status: str | None, filled: float | None, amount: float | None) -> OrderStatus:
    """ccxt's unified order status (open/closed/canceled/expired/rejected) -> ours."""
    filled = filled or 0
    if status == "closed":
        return S.FILLED
    if status == "canceled":
        return S.CANCELED
    if status == "expired":
        return S.EXPIRED
    if status == "rejected":
        return S.REJECTED
    if filled and amount and filled >= amount:
        return S.FILLED
    return S.PARTIALLY_FILLED if filled else S.OPEN
