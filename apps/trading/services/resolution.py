"""Resolution of UNKNOWN orders and the safety-net sweep: an order whose outcome is unknown is
looked up by its client_order_id and, once proven never booked, settled or resent by the rules
in apps/trading/services/orders.py's docstring (an entry is decided again by placement)."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.common.logging import get_logger
from apps.engine.order_fsm import OrderStatus as S
from apps.exchanges.errors import ExchangeCallError, OrderNotFoundError
from apps.trading import selectors
from apps.trading.amounts import quantize_amount
from apps.trading.dispatch import task_queue
from apps.trading.models import Order, Position
from apps.trading.services.orders import (
    MAX_SUBMIT_ATTEMPTS,
    ZERO,
    _setting,
    order_kill_blocks,
    order_locked,
    order_mark_unknown,
    order_report_apply,
    order_send,
    order_transition,
    order_with_trades,
    resend_max_age,
    resolve_not_found_lookups,
    resolve_safe_age,
    venue_call,
)
from apps.trading.services.placement import entry_resend_decide, signals_sweep
from apps.trading.venues import venue_for

log = get_logger(__name__)


# --- Resolution of UNKNOWN orders ----------------------------------------------------------


def order_resolve(*, order_id: int) -> str:
    """One look-up by client_order_id. Returns 'resolved', 'resent', 'given_up', 'retry' (the
    exchange answered, nothing is proven yet) or 'unreachable' (it did not answer)."""
    order = Order.objects.select_related("market", "account__exchange").get(pk=order_id)
    if order.status != S.UNKNOWN:
        return "resolved"
    venue = venue_for(order.account)
    try:
        report = venue_call(order.account_id, lambda: venue.order_fetch(order))
    except OrderNotFoundError:
        return _not_found(order_id)
    except ExchangeCallError as error:
        Order.objects.filter(pk=order_id).update(updated_at=timezone.now())
        log.info("order look-up failed; will retry", order=order_id, error=error.error_class)
        return "unreachable" if error.retryable else "retry"
    order_report_apply(
        order_id=order_id,
        report=order_with_trades(venue, order, report),
        cause=f"resolved by look-up of {order.client_order_id}: the exchange has it as {report.status}",
    )
    return "resolved"


def _not_found(order_id: int) -> str:
    with transaction.atomic():
        order = order_locked(order_id)
        if order.status != S.UNKNOWN:
            return "resolved"
        order.resolve_attempts += 1
        order.save(update_fields=["resolve_attempts", "updated_at"])
        age = timezone.now() - (order.submitted_at or order.created_at)
        if order.resolve_attempts < resolve_not_found_lookups() or age < resolve_safe_age():
            return "retry"
        proof = (
            f"not on the exchange: {order.resolve_attempts} look-ups of {order.client_order_id} found nothing, "
            f"{age.total_seconds():.0f} s after it was sent"
        )
        target, why, amount = _resend_verdict(order)
        if target:
            order_transition(order, target, cause=f"never booked ({proof}); not resent: {why}")
            return "given_up"
        resized = f" for the {amount.normalize():f} still held" if amount != order.amount else ""
        order_transition(
            order,
            S.SUBMITTING,
            cause=f"never booked ({proof}); resending with the same client_order_id{resized}",
            submit_attempts=order.submit_attempts + 1,
            submitted_at=timezone.now(),
            resolve_attempts=0,
            amount=amount,
        )
    order_send(order)
    return "resent"


def _resend_verdict(order: Order) -> tuple[str, str, Decimal]:
    """(status to settle it in and why, or ('', '', amount to resend)) for an order proven never
    booked. Closes have no age limit: an outage must not drop an exit."""
    refused = order.events.filter(cause__startswith="resend refused").count()
    if refused >= MAX_SUBMIT_ATTEMPTS - 1:
        return S.REJECTED, f"the exchange refused it {refused} times", order.amount
    blocked = order_kill_blocks(order)
    if blocked:
        return S.REJECTED, blocked, order.amount
    if order.reduce_only:
        held = _close_amount_held(order)
        if held <= 0:
            return S.EXPIRED, f"the {order.market.base} position it closes is no longer held", order.amount
        return "", "", min(order.amount, held)
    if timezone.now() - order.created_at > resend_max_age():
        return S.EXPIRED, "too old to resend (an entry is not sent late)", order.amount
    refusal = entry_resend_decide(order=order)
    if refusal:
        return S.EXPIRED, f"the entry no longer passes the risk rules: {refusal}", order.amount
    return "", "", order.amount


def _close_amount_held(order: Order) -> Decimal:
    """What a close may still sell: the open position (dust is none) less the other live sells."""
    position = Position.objects.filter(account_id=order.account_id, market_id=order.market_id).select_related("market").first()
    if position is None or not position.is_open:
        return ZERO
    others = selectors.live_orders(account=order.account_id, market=order.market_id).filter(side="sell").exclude(pk=order.pk)
    selling = sum((amount - filled for amount, filled in others.values_list("amount", "filled")), ZERO)
    amount = quantize_amount(position.amount - selling, order.market.amount_precision)
    price = order.price or position.last_price or position.average_entry
    return amount if amount > 0 and amount * price >= order.market.min_notional else ZERO


def orders_sweep(*, stuck_after: timedelta | None = None) -> dict:
    """Safety net (beat): a signal left PENDING is placed or expired (placement.signals_sweep);
    a SUBMITTING order whose worker died goes UNKNOWN and is resolved; a NEW order whose submit
    task was lost is queued again (the claim makes that harmless)."""
    stuck_after = stuck_after or timedelta(seconds=_setting("TRADING_SUBMIT_STUCK_S", 30))
    counts = {**signals_sweep(), "new": 0, "submitting": 0, "unknown": 0}
    for order_id in selectors.orders_stuck(older_than=timedelta(seconds=10), statuses=[S.NEW.value]).values_list("pk", flat=True):
        task_queue("order_submit", order_id)
        counts["new"] += 1
    for order_id in selectors.orders_stuck(older_than=stuck_after, statuses=[S.SUBMITTING.value]).values_list("pk", flat=True):
        order_mark_unknown(
            order_id, f"still SUBMITTING after {stuck_after.total_seconds():.0f} s: the worker was lost mid-submit"
        )
        counts["submitting"] += 1
    for order_id in selectors.orders_stuck(older_than=stuck_after * 2, statuses=[S.UNKNOWN.value]).values_list("pk", flat=True):
        task_queue("order_resolve", order_id)
        counts["unknown"] += 1
    return counts
