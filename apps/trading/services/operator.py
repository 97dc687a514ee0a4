"""What a trader asks of the desk by hand: cancel an order, close a position, flatten an account.

Each takes the actor (None: the system) and the interface it came through (`via`), checks the
actor's role and membership of the account, and writes one audit entry: what the object looked
like before and after, or, when refused, the reason (ApplicationError: NotFound, NotAllowed,
Conflict), which each interface turns into its own answer.

A close is not a side path: it is a Signal (intent close, source operator) placed through the
same placement, risk rules and order submission as a strategy's exit, so every limit, the kill
switch and the account lock apply to it, and its fills move the position as any other.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.common.audit import audit_record, audit_refusals
from apps.common.errors import ApplicationError, Conflict, NotFound
from apps.common.logging import get_logger
from apps.engine.order_fsm import LIVE
from apps.engine.order_fsm import OrderStatus as S
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.errors import ExchangeCallError, OrderNotFoundError
from apps.exchanges.models import ExchangeAccount
from apps.exchanges.roles import Role
from apps.trading import selectors
from apps.trading.models import Order, Position, Signal
from apps.trading.services.orders import (
    order_report_apply,
    order_transition,
    venue_call,
)
from apps.trading.services.placement import signal_execute
from apps.trading.services.signals import signal_create
from apps.trading.venues import VenueOrder, venue_for

log = get_logger(__name__)
ZERO = Decimal(0)
ON_THE_VENUE = (S.OPEN, S.PARTIALLY_FILLED)  # booked and still working: a cancel goes to the exchange


def _who(actor) -> str:
    return actor.get_username() if actor is not None else "the system"


def _asked(actor, reason: str) -> str:
    return f"{_who(actor)}" + (f": {reason}" if reason else "")


# --- order_cancel ---------------------------------------------------------------------------


def order_cancel(*, actor, order_id: int, reason: str = "", via: str | None = None) -> Order:
    """Cancel an order: one still NEW is withdrawn before it leaves the desk; one OPEN or
    PARTIALLY FILLED is canceled on the exchange (CANCELING, then what the exchange says: CANCELED,
    or FILLED when a fill won the race). If the exchange does not answer, the order stays
    CANCELING and reconciliation settles it. Conflict for any other status."""
    with audit_refusals(
        actor=actor, via=via, action="order.cancel", object_type=Order._meta.label_lower, object_id=order_id, reason=reason
    ):
        order = Order.objects.select_related("market", "account__exchange").filter(pk=order_id).first()
        missing = f"no order #{order_id} on your accounts"
        if order is None:
            raise NotFound(missing)
        account_action_authorize(
            actor=actor, account_id=order.account_id, role=Role.TRADER, doing="cancel orders", missing=missing
        )
        return _cancel(actor=actor, order=order, reason=reason, via=via)


def _cancel(*, actor, order: Order, reason: str, via: str | None) -> Order:
    with transaction.atomic():
        locked = _locked(order.pk)
        before = _order_state(locked)
        if locked.status == S.NEW:
            # Not sent yet: the submit's claim (NEW -> SUBMITTING) now finds nothing to claim.
            order_transition(locked, S.CANCELED, cause=f"withdrawn before it was sent, by {_asked(actor, reason)}")
            _order_audit(actor, via, locked, reason, before)
            return locked
        if locked.status not in ON_THE_VENUE:
            raise Conflict(_not_cancelable(locked))
        order_transition(locked, S.CANCELING, cause=f"cancel requested by {_asked(actor, reason)}")
    report, trouble = _cancel_on_venue(locked)
    with transaction.atomic():
        if report is not None:
            locked = order_report_apply(
                order_id=locked.pk,
                report=report,
                cause=f"canceled at the request of {_asked(actor, reason)}: the exchange has it as {report.status}",
            )
        _order_audit(actor, via, locked, reason, before, note=trouble)
    return locked


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("market", "account__exchange").get(pk=order_id)


def _not_cancelable(order: Order) -> str:
    label = f"order {order.client_order_id} ({order.side} {order.amount.normalize():f} {order.market.symbol})"
    if order.status == S.CANCELING:
        return f"{label} is already being canceled"
    if order.status in (S.SUBMITTING, S.UNKNOWN):
        return (
            f"{label} was sent and the exchange has not confirmed it yet ({order.status}): "
            "cancel it once the desk knows whether it was booked"
        )
    return f"{label} is {order.get_status_display().lower()}: only an open order can be canceled"


def _cancel_on_venue(order: Order) -> tuple[VenueOrder | None, str]:
    """(what the exchange says now, or None with why it could not tell). Outside any transaction."""
    venue = venue_for(order.account)
    try:
        try:
            report = venue_call(order.account_id, lambda: venue.order_cancel(order))
        except OrderNotFoundError:
            # Binance answers "unknown order" to a cancel of an order no longer open: it filled or
            # was canceled first. The look-up says which.
            report = venue_call(order.account_id, lambda: venue.order_fetch(order))
        if report.filled > 0 and not report.trades_complete and report.venue_order_id:
            report.trades = venue_call(order.account_id, lambda: venue.trades_fetch(order, report.venue_order_id))
    except ExchangeCallError as error:
        log.warning("cancel not confirmed; reconciliation will settle it", order=order.pk, error=error.error_class)
        return None, f"the exchange did not confirm the cancel ({error.error_class}): reconciliation will settle it"
    return report, ""


def _order_state(order: Order) -> dict:
    return {"status": order.status, "filled": order.filled, "amount": order.amount, "client_order_id": order.client_order_id}


def _order_audit(actor, via, order: Order, reason: str, before: dict, note: str = "") -> None:
    after = _order_state(order) | ({"note": note} if note else {})
    audit_record(actor=actor, via=via, action="order.cancel", obj=order, reason=reason, before=before, after=after)


# --- position_close -------------------------------------------------------------------------


@dataclass
class Closing:
    position: Position
    signal: Signal
    order: Order | None  # None: the close waits for its entry's fills (the sweep places it)

    def describe(self) -> str:
        """One line a trader reads (admin message, command output)."""
        position, order = self.position, self.order
        label = f"position #{position.pk} {position.market.symbol} on {position.account.name}"
        if order is None:
            return f"{label}: the close waits for its entry's fills and is placed once they are in"
        state = "placed, on its way to the exchange" if order.status == S.NEW else order.get_status_display().lower()
        return (
            f"{label}: sell {order.amount.normalize():f} {position.market.base} at market, order {order.client_order_id} {state}"
        )


def position_close(*, actor, position_id: int, reason: str, via: str | None = None, fraction: Decimal | None = None) -> Closing:
    """Sell the tradable amount (or `fraction` of it, e.g. 0.5) at market through the normal
    pipeline (signal -> risk -> order -> submission -> fills). Conflict when closed, dust, a close
    already on its way, no price yet, or the risk rules refuse it (the kill switch HALTED...)."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="position.close",
        object_type=Position._meta.label_lower,
        object_id=position_id,
        reason=reason,
    ):
        position = Position.objects.select_related("market", "account", "strategy").filter(pk=position_id).first()
        missing = f"no position #{position_id} on your accounts"
        if position is None:
            raise NotFound(missing)
        account_action_authorize(
            actor=actor, account_id=position.account_id, role=Role.TRADER, doing="close positions", missing=missing
        )
        closing = _close(actor=actor, position=position, reason=reason, via=via, fraction=fraction)
    if closing.order is not None:
        closing.order.refresh_from_db()  # submitted on commit (in place when tasks run eagerly)
    return closing


def _close(*, actor, position: Position, reason: str, via: str | None, fraction: Decimal | None = None) -> Closing:
    _closable_check(position)
    price = selectors.last_price(market=position.market)
    if price is None:
        raise Conflict(f"no price for {position.market.symbol} yet: the desk cannot size a market exit")
    before = _position_state(position)
    with transaction.atomic():  # the signal, its order and the audit entry together
        now = timezone.now()
        signal = signal_create(
            strategy=position.strategy,
            account_id=position.account_id,
            market_id=position.market_id,
            candle_time=now,
            action="operator_close",
            side="sell",
            intent="close",
            price=price,
            size=fraction,
            source=Signal.Source.OPERATOR,
            reason=f"position {'reduced' if fraction else 'closed'} by {_asked(actor, reason)}",
            key=f"o{position.pk}:{now.timestamp():.6f}",
        )
        order = signal_execute(signal_id=signal.pk)
        signal.refresh_from_db()
        if signal.status == Signal.Status.REJECTED:
            refusal = f"the desk refused the close of {position.market.symbol}: {signal.rejection_reason}"
        else:
            refusal = ""
            audit_record(
                actor=actor,
                via=via,
                action="position.close",
                obj=position,
                reason=reason,
                before=before,
                after=before
                | {
                    "signal": signal.pk,
                    "order": order.client_order_id if order else None,
                    "closing_amount": order.amount if order else None,
                },
            )
    if refusal:  # the rejected signal stays, with its reason, as every refused signal does
        raise Conflict(refusal)
    return Closing(position=position, signal=signal, order=order)


def _closable_check(position: Position) -> None:
    market = position.market
    label = f"position #{position.pk} ({market.symbol} on {position.account.name})"
    if position.amount <= 0:
        raise Conflict(f"{label} is already closed")
    if position.tradable_amount <= 0:
        raise Conflict(
            f"{label} holds only {position.amount.normalize():f} {market.base}: dust (less than one exchange step "
            f"of {market.amount_precision.normalize():f}, or worth less than the minimum order of "
            f"{market.min_notional.normalize():f} {market.quote}) cannot be sold"
        )
    selling = selectors.live_orders(account=position.account_id, market=market).filter(side="sell").first()
    if selling is not None:
        raise Conflict(f"a close of {label} is already on its way: order {selling.client_order_id} is {selling.status}")
    if Signal.objects.filter(
        account_id=position.account_id, market=market, intent=Signal.Intent.CLOSE, status=Signal.Status.PENDING
    ).exists():
        raise Conflict(f"a close of {label} is already waiting to be placed")


def _position_state(position: Position) -> dict:
    return {
        "amount": position.amount,
        "average_entry": position.average_entry,
        "realized_pnl": position.realized_pnl,
        "market": position.market.symbol,
    }


# --- account_flatten ------------------------------------------------------------------------


@dataclass
class Flattening:
    account: ExchangeAccount
    canceled: list[Order] = field(default_factory=list)
    closing: list[Closing] = field(default_factory=list)
    dust: list[Position] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # what could not be done, in words

    def summary(self) -> str:
        parts = [
            f"{len(self.canceled)} order{'s' * (len(self.canceled) != 1)} canceled",
            f"{len(self.closing)} position{'s' * (len(self.closing) != 1)} closing",
        ]
        if self.dust:
            parts.append(f"{len(self.dust)} dust position{'s' * (len(self.dust) != 1)} left (too small to sell)")
        if self.failed:
            parts.append(f"{len(self.failed)} not done: " + "; ".join(self.failed))
        return ", ".join(parts)


def account_flatten(*, actor, account_id: int, reason: str, via: str | None = None) -> Flattening:
    """Cancel every open order first (a resting sell would block its position's close, a resting
    buy would open a new one), then close every tradable position. Each cancel and close is
    audited on its own; one more entry sums the flatten up. What one item could not do is
    reported in `failed` and the others go on."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="account.flatten",
        object_type=ExchangeAccount._meta.label_lower,
        object_id=account_id,
        reason=reason,
    ):
        account = ExchangeAccount.objects.filter(pk=account_id).first()
        missing = f"no account #{account_id} among your accounts"
        if account is None:
            raise NotFound(missing)
        account_action_authorize(actor=actor, account_id=account.pk, role=Role.TRADER, doing="flatten accounts", missing=missing)
        return _flatten(actor=actor, account=account, reason=reason, via=via)


def _flatten(*, actor, account: ExchangeAccount, reason: str, via: str | None) -> Flattening:
    done = Flattening(account=account)
    orders = list(Order.objects.filter(account=account, status__in=[status.value for status in LIVE]).order_by("pk"))
    positions = list(Position.objects.filter(account=account, amount__gt=0).select_related("market").order_by("pk"))
    before = {
        "live_orders": [order.client_order_id for order in orders],
        "positions": {position.market.symbol: position.amount for position in positions},
    }
    for order in orders:
        _attempt(
            done,
            lambda order=order: done.canceled.append(
                order_cancel(actor=actor, order_id=order.pk, reason=f"flatten: {reason}", via=via)
            ),
        )
    for position in positions:
        if position.tradable_amount <= 0:
            done.dust.append(position)
            continue
        _attempt(
            done,
            lambda position=position: done.closing.append(
                position_close(actor=actor, position_id=position.pk, reason=f"flatten: {reason}", via=via)
            ),
        )
    audit_record(
        actor=actor,
        via=via,
        action="account.flatten",
        obj=account,
        reason=reason,
        before=before,
        after={
            "canceled": [order.client_order_id for order in done.canceled],
            "closing": [closing.order.client_order_id for closing in done.closing if closing.order],
            "dust": [position.market.symbol for position in done.dust],
            "failed": done.failed,
        },
    )
    return done


def _attempt(done: Flattening, step) -> None:
    try:
        step()
    except ApplicationError as error:
        done.failed.append(error.message)
