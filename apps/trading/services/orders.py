"""Orders: placed under the account's row lock (risk sees every order before it), submitted once,
resolved by client_order_id when the outcome is unknown.

The resend rule (the only case an order create is sent twice): an UNKNOWN order is resent, with
the SAME client_order_id, only once the exchange answered "no such order" to
RESOLVE_NOT_FOUND_LOOKUPS look-ups by that id, the last of them more than RESOLVE_SAFE_AGE after
the create was sent. Binance drops a request older than its recvWindow (10 s in ccxt), so a
request not booked by then never will be: the look-ups prove it was not booked. A look-up that
fails (timeout, 5xx) proves nothing and is only retried. A reply that is not an answer about the
order (a 200 without the exchange's id and a known status) is an unknown outcome too.

What a proven-never-booked order becomes:
- a close (reduce-only: an exit, a protective exit) is resent whatever its age while the
  position is still held (for at most what is held): an outage never drops an exit;
- an entry older than RESEND_MAX_AGE is EXPIRED; a younger one is resent only if it passes
  today's risk decision (placement.entry_resend_decide, a RiskEvent), else EXPIRED with the reason;
- an order the exchange refused MAX_SUBMIT_ATTEMPTS - 1 times on a resend, or that the kill
  switch blocks, is REJECTED.

The look-up schedule (`resolve_delay`): while the exchange is not answering, a look-up every
RESOLVE_DOWN_PROBE_S; once it answers, the backoff starts over (1 s, 2 s, 4 s... capped), so the
not-found look-ups that prove an order never booked take seconds after an outage, not minutes.
"""

import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.common import metrics
from apps.common.events import event_build, events_save
from apps.common.logging import get_logger
from apps.common.models import Event
from apps.engine.order_fsm import TERMINAL, status_from_exchange, transition
from apps.engine.order_fsm import OrderStatus as S
from apps.engine.risk_rules import KillState
from apps.exchanges.errors import (
    CircuitOpenError,
    ExchangeCallError,
    MalformedReplyError,
    OrderNotFoundError,
    PermanentExchangeError,
)
from apps.exchanges.models import ExchangeAccount
from apps.risk.selectors import kill_state
from apps.trading.dispatch import task_queue
from apps.trading.models import Order, OrderEvent
from apps.trading.venues import VenueOrder, venue_for

log = get_logger(__name__)
ZERO = Decimal(0)


def _setting(name: str, default):
    return getattr(settings, name, default)


def resolve_not_found_lookups() -> int:
    return _setting("TRADING_RESOLVE_NOT_FOUND_LOOKUPS", 3)


def resolve_safe_age() -> timedelta:
    return timedelta(seconds=_setting("TRADING_RESOLVE_SAFE_AGE_S", 20))


def resend_max_age() -> timedelta:
    return timedelta(seconds=_setting("TRADING_RESEND_MAX_AGE_S", 120))


RESOLVE_BACKOFF_CAP_S = 30


def resolve_delay(*, outcome: str, lookups: int) -> float | None:
    """Seconds until the next look-up of an UNKNOWN order (None: it is settled). `lookups`: the
    look-ups the exchange answered since it last failed to answer. While it does not answer the
    order is probed at a steady pace (one GET: cheap), so the first answer after an outage is
    seen within RESOLVE_DOWN_PROBE_S and the backoff starts over from there."""
    if outcome == "unreachable":
        return _setting("TRADING_RESOLVE_DOWN_PROBE_S", 5)
    if outcome == "retry":
        return min(2 ** min(lookups, 5), RESOLVE_BACKOFF_CAP_S)
    return None


MAX_SUBMIT_ATTEMPTS = 3
EVENT_KINDS = {
    S.NEW: "order.created",
    S.SUBMITTING: "order.submitting",
    S.OPEN: "order.acknowledged",
    S.PARTIALLY_FILLED: "order.partially_filled",
    S.FILLED: "order.filled",
    S.CANCELING: "order.canceling",
    S.CANCELED: "order.canceled",
    S.REJECTED: "order.rejected",
    S.EXPIRED: "order.expired",
    S.UNKNOWN: "order.unknown",
}


# --- State changes ------------------------------------------------------------------------


def order_payload(order: Order) -> dict:
    return {
        "order": order.pk,
        "client_order_id": order.client_order_id,
        "venue_order_id": order.venue_order_id,
        "market": order.market_id,
        "side": order.side,
        "type": order.type,
        "amount": str(order.amount),
        "filled": str(order.filled),
        "price": str(order.price) if order.price is not None else None,
        "status": order.status,
        "reason": order.reason,
        "strategy": order.strategy_id,
    }


def order_event_record(order: Order, from_status: str, to_status: str, cause: str, data: dict | None = None) -> None:
    OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, cause=cause[:4000], data=data or {})
    events_save([order_event_outbox(order, to_status, cause)])


def order_event_outbox(order: Order, to_status: str, cause: str) -> Event:
    """The (unsaved) outbox event of an order's change (the order saved)."""
    return event_build(EVENT_KINDS[S(to_status)], {**order_payload(order), "cause": cause}, account=order.account_id)


def order_transition(order: Order, target: str, *, cause: str, data: dict | None = None, **fields) -> Order:
    """Inside a transaction, with the order locked. Illegal -> IllegalTransitionError."""
    previous = order.status
    order.status = transition(previous, target).value
    for name, value in fields.items():
        setattr(order, name, value)
    if target in (S.REJECTED, S.EXPIRED, S.CANCELED) and not fields.get("reason"):
        order.reason = cause[:4000]
    order.save()
    order_event_record(order, previous, order.status, cause, data)
    _outcome_count(order, cause, data)
    return order


def _outcome_count(order: Order, cause: str, data: dict | None) -> None:
    """The seed's fill and rejection counters, once the change is committed."""
    if order.status == S.FILLED:
        labels = (order.market.symbol, order_strategy_label(order))
        transaction.on_commit(lambda: metrics.orders_filled.labels(*labels).inc())
    elif order.status == S.REJECTED:
        labels = (order.market.symbol, _rejection_reason(cause, data))
        transaction.on_commit(lambda: metrics.orders_rejected.labels(*labels).inc())


def _rejection_reason(cause: str, data: dict | None) -> str:
    """A bounded label: the exchange's error class, or which of the desk's rules refused it."""
    if data and data.get("error_class"):
        return data["error_class"]
    return "kill_switch" if cause.startswith("kill switch") else "refused_on_resend"


def order_strategy_label(order: Order) -> str:
    """The strategy's name, or who else sent it (protection, operator)."""
    if order.strategy_id:
        return order.strategy.name
    return order.signal.source if order.signal_id else "desk"


def order_locked(order_id: int) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("market", "account__exchange", "strategy", "signal")
        .get(pk=order_id)
    )


def venue_call(account_id: int, call):
    """Run a venue call, recording whether the exchange answered."""
    from apps.trading.venue_health import venue_failure_record, venue_success_record

    try:
        result = call()
    except ExchangeCallError as error:
        metrics.api_errors.labels(_service_name(account_id), error.error_class).inc()
        (venue_failure_record if error.retryable else venue_success_record)(
            account_id=account_id, **({"error": error} if error.retryable else {})
        )
        raise
    venue_success_record(account_id=account_id)
    return result


def _service_name(account_id: int) -> str:
    """The account's name (read on the error path only)."""
    return ExchangeAccount.objects.filter(pk=account_id).values_list("name", flat=True).first() or str(account_id)


# --- Placement: signal -> risk -> NEW order (services/placement.py) ------------------------


def _strategy_failure(strategy_id: int, reason: str) -> None:
    from apps.trading.services.strategy_health import strategy_failure_record

    strategy_failure_record(strategy_id=strategy_id, reason=reason)


# --- Submission ---------------------------------------------------------------------------


def order_submit(*, order_id: int) -> Order | None:
    """Claim (NEW -> SUBMITTING, a conditional UPDATE: one worker wins), then call the venue once."""
    with transaction.atomic():
        now = timezone.now()
        claimed = Order.objects.filter(pk=order_id, status=S.NEW.value).update(
            status=S.SUBMITTING.value, submitted_at=now, submit_attempts=F("submit_attempts") + 1, updated_at=now
        )
        if not claimed:
            return None
        order = order_locked(order_id)
        order_event_record(order, S.NEW, S.SUBMITTING, f"claimed for submission (attempt {order.submit_attempts})")
        blocked = order_kill_blocks(order)
        if blocked:
            order_transition(order, S.REJECTED, cause=blocked)
            return order
    return order_send(order)


def order_kill_blocks(order: Order) -> str:
    state = kill_state(account_id=order.account_id)
    if state == KillState.HALTED:
        return "kill switch is HALTED: the order was not sent"
    if state == KillState.REDUCE_ONLY and not order.reduce_only:
        return "kill switch is REDUCE_ONLY: an opening order was not sent"
    return ""


def order_send(order: Order) -> Order:
    venue = venue_for(order.account)
    metrics.orders_submitted.labels(order.market.symbol, order.type, order_strategy_label(order)).inc()
    try:
        report = venue_call(order.account_id, lambda: _create_timed(venue, order))
    except CircuitOpenError as error:  # never left the desk; looked up, then resent or expired by the usual rules
        return order_mark_unknown(order.pk, f"create not sent ({error.error_class}): {error}")
    except (MalformedReplyError, OrderNotFoundError) as error:
        return order_mark_unknown(order.pk, f"create sent, reply unusable ({error.error_class}): {error}")
    except PermanentExchangeError as error:
        if order.submit_attempts > 1:  # a resend refused may be the exchange's duplicate check
            return order_mark_unknown(order.pk, f"resend refused ({error.error_class}): {error}")
        return _mark_rejected(order.pk, error)
    except ExchangeCallError as error:
        return order_mark_unknown(order.pk, f"create sent, outcome unknown ({error.error_class}): {error}")
    except Exception as error:
        log.exception("order submit failed unexpectedly", order=order.pk)
        return order_mark_unknown(order.pk, f"create sent, outcome unknown ({type(error).__name__}: {error})")
    return order_report_apply(
        order_id=order.pk, report=order_with_trades(venue, order, report), cause="acknowledged by the exchange"
    )


def _create_timed(venue, order: Order) -> VenueOrder:
    """The exchange's create call, answered or not, into the submission-time histogram."""
    started = time.perf_counter()
    try:
        return venue.order_create(order)
    finally:
        metrics.order_submission_seconds.labels(order.market.symbol).observe(time.perf_counter() - started)


def _mark_rejected(order_id: int, error: ExchangeCallError) -> Order:
    with transaction.atomic():
        order = order_locked(order_id)
        order_transition(
            order,
            S.REJECTED,
            cause=f"rejected by the exchange ({error.error_class}): {error}",
            data={"error_class": error.error_class},
        )
        if order.strategy_id:
            _strategy_failure(order.strategy_id, f"order {order.client_order_id} rejected: {error}")
    return order


def order_mark_unknown(order_id: int, cause: str) -> Order:
    with transaction.atomic():
        order = order_locked(order_id)
        if order.status != S.SUBMITTING:
            return order
        order_transition(order, S.UNKNOWN, cause=cause, resolve_attempts=0)
        transaction.on_commit(
            lambda: task_queue("order_resolve", order_id, countdown=_setting("TRADING_RESOLVE_FIRST_DELAY_S", 1))
        )
    log.warning("order outcome unknown", order=order_id, cause=cause)
    return order


def order_with_trades(venue, order: Order, report: VenueOrder) -> VenueOrder:
    """Fetch the trades when the reply does not list them all (outside any transaction)."""
    if report.filled > 0 and not report.trades_complete and report.venue_order_id:
        try:
            report.trades = venue.trades_fetch(order, report.venue_order_id)
        except ExchangeCallError as error:
            log.warning("trades not fetched; reconciliation will apply them", order=order.pk, error=str(error))
    return report


def order_report_apply(*, order_id: int, report: VenueOrder, cause: str) -> Order:
    """Apply what the venue says: its id, the fills (each once) and the resulting status."""
    from apps.trading.services.fills import fill_apply

    with transaction.atomic():
        order = order_locked(order_id)
        if report.venue_order_id and not order.venue_order_id:
            order.venue_order_id = report.venue_order_id
        applied = [fill for fill in (fill_apply(order=order, trade=trade) for trade in report.trades) if fill]
        if applied and order.account.mode != ExchangeAccount.Mode.PAPER:
            # The balances, and the holdings compared with them, after each fill.
            transaction.on_commit(lambda: task_queue("holdings_reconcile", order.account_id))
        target = status_from_exchange(status=report.status, filled=report.filled, amount=report.amount)
        if order.status in TERMINAL or (target == order.status and target != S.PARTIALLY_FILLED):
            order.save()
            return order
        if target == S.PARTIALLY_FILLED and order.status == S.PARTIALLY_FILLED and report.filled <= order.filled:
            order.save()
            return order
        order_transition(
            order,
            target,
            cause=cause,
            data={"venue_status": report.status, "filled": str(report.filled)},
            average_price=report.average or order.average_price,
        )
    return order
