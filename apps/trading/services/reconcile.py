"""Reconciliation of one sim/live account's orders with the exchange (beat, after the balances
sync). The exchange is the truth; reconciliation never sends nor cancels an order.

- Every order the desk holds as OPEN / PARTIALLY_FILLED / CANCELING is looked up by
  client_order_id with its trades, so later fills, cancels and expiries on the exchange reach
  the desk through `order_report_apply` (each fill once, the status through the FSM).
- Orders settled in the last 24 h with missing fills (the trades fetch after the create or the
  look-up failed) are looked up the same way: their fills, and the position, are corrected.
- The exchange's open orders in the account's markets are listed: one whose client id is not
  ours is recorded as `reconcile.unknown_order`, one the desk holds as settled as
  `reconcile.status_mismatch`. Each is recorded when first seen, not every run.
- An order the desk holds as live that the exchange keeps answering "no such order" for is
  settled as EXPIRED (lost) with the reason and an `order.lost` event of severity critical
  (`order_lost_check`): never left live forever, where it would count as on its way.
- NEW / SUBMITTING / UNKNOWN orders belong to the submit path and the resolver: left alone.

The missing-fills rule. `order.filled` only moves when a Fill row is applied, so the amount the
exchange filled is read from what the exchange said:
- FILLED: the whole `order.amount` (Binance's FILLED means executedQty == origQty, and the desk
  sends its exact Decimal amount);
- CANCELED / EXPIRED: the largest `filled` the exchange reported for the order, which
  `order_report_apply` keeps in the data of each status change (OrderEvent.data["filled"]).
An order whose Fill rows sum to less than that is looked up again.

Errors. A temporary error (timeout, 5xx, rate limit: the exchange is not answering) ends the run
with the reason recorded: every further call would wait on it too, and the next run (a minute
later) starts over. A permanent error (the order unknown there, a malformed reply) or a report
the FSM refuses is recorded for that order and the others go on. Each order is applied whole
(its fills and status together) or not at all.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.common.events import RECONCILE, event_latest, event_record
from apps.common.logging import get_logger
from apps.engine.order_fsm import TERMINAL, IllegalTransitionError
from apps.engine.order_fsm import OrderStatus as S
from apps.exchanges.errors import ExchangeCallError, OrderNotFoundError
from apps.exchanges.models import ExchangeAccount
from apps.trading.models import MONEY, Order
from apps.trading.services.accounts import account_markets
from apps.trading.services.orders import (
    order_payload,
    order_report_apply,
    order_transition,
    resolve_not_found_lookups,
    resolve_safe_age,
    venue_call,
)
from apps.trading.venue_health import venue_down_reason
from apps.trading.venues import VenueOpenOrder, VenueOrder, venue_for

log = get_logger(__name__)
ZERO = Decimal(0)
SETTLED_WINDOW = timedelta(hours=24)
POLLED = [S.OPEN.value, S.PARTIALLY_FILLED.value, S.CANCELING.value]
SETTLED = [S.FILLED.value, S.CANCELED.value, S.EXPIRED.value]
FAILURES_KEPT = 20  # in the summary event; the count is always exact


@dataclass
class ReconcileReport:
    account_id: int
    orders_checked: int = 0
    fills_applied: int = 0
    status_changes: int = 0
    unknown_orders: list[dict] = field(default_factory=list)
    status_mismatches: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    scanned: bool = False  # the exchange's open orders were listed
    aborted: str = ""  # why the run ended early (the exchange not answering)
    skipped: str = ""  # why nothing was done (a paper account)

    def summary(self) -> dict:
        return {
            "account": self.account_id,
            "orders_checked": self.orders_checked,
            "fills_applied": self.fills_applied,
            "status_changes": self.status_changes,
            "unknown_orders": len(self.unknown_orders),
            "unknown_order_ids": [found["venue_order_id"] for found in self.unknown_orders],
            "status_mismatches": len(self.status_mismatches),
            "status_mismatch_ids": [found["venue_order_id"] for found in self.status_mismatches],
            "failed": len(self.failures),
            "failures": self.failures[:FAILURES_KEPT],
            "scanned": self.scanned,
            "aborted": self.aborted,
        }


class _ExchangeDown(Exception):
    pass


def reconcile_topic(account_id: int) -> str:
    return RECONCILE.name(account=account_id)


def orders_reconcile(*, account_id: int) -> ReconcileReport:
    """Bring the desk's orders in line with the exchange; record what differs. Never raises an
    exchange error."""
    account = ExchangeAccount.objects.select_related("exchange").get(pk=account_id)
    report = ReconcileReport(account_id=account_id)
    if account.mode == ExchangeAccount.Mode.PAPER:
        report.skipped = "paper account: the paper venue is the desk's own book"
        return report
    down = venue_down_reason(account_id=account_id)  # e.g. the balances sync just failed
    if down:
        report.aborted = f"the exchange is not answering: {down}"
    else:
        _reconcile_run(account, report)
    _summary_record(report)
    return report


def _reconcile_run(account: ExchangeAccount, report: ReconcileReport) -> None:
    venue = venue_for(account)
    orders = orders_to_check(account_id=account.pk)
    try:
        _open_orders_scan(venue, account, orders, report)
        for order in orders:
            _order_check(venue, order, report)
    except _ExchangeDown as down:
        report.aborted = str(down)


def _failure_or_down(error: ExchangeCallError) -> dict:
    """A permanent error as a failure for the report; a temporary one ends the run instead."""
    if error.retryable:
        raise _ExchangeDown(f"the exchange is not answering ({error.error_class}): {error}") from error
    return {"error_class": error.error_class, "error": str(error)[:300]}


# --- The desk's orders ---------------------------------------------------------------------


def orders_to_check(*, account_id: int) -> list[Order]:
    """The orders still live on the exchange, then the settled ones with missing fills."""
    orders = Order.objects.filter(account_id=account_id).select_related("market", "account__exchange")
    polled = list(orders.filter(status__in=POLLED).order_by("id"))
    applied = Coalesce(Sum("fills__amount"), Value(ZERO), output_field=DecimalField(**MONEY))
    short = (
        orders.filter(status__in=SETTLED, created_at__gte=timezone.now() - SETTLED_WINDOW)
        .annotate(applied=applied)
        .filter(applied__lt=F("amount"))
        .order_by("id")
        .prefetch_related("events")
    )
    return polled + [order for order in short if order.applied < exchange_filled(order)]


def exchange_filled(order: Order) -> Decimal:
    """What the exchange filled of a settled order (the missing-fills rule, above)."""
    if order.status == S.FILLED:
        return order.amount
    reported = [Decimal(event.data["filled"]) for event in order.events.all() if (event.data or {}).get("filled")]
    return max(reported, default=ZERO)


def _order_check(venue, order: Order, report: ReconcileReport) -> None:
    report.orders_checked += 1
    status, fills = order.status, order.fills.count()
    try:
        exchange = _exchange_report(venue, order)
        order = order_report_apply(
            order_id=order.pk,
            report=exchange,
            cause=(f"reconciliation: the exchange has {order.client_order_id} as {exchange.status}, filled {exchange.filled}"),
        )
        if order.resolve_attempts:
            Order.objects.filter(pk=order.pk).update(resolve_attempts=0)  # found: the not-found count starts over
    except OrderNotFoundError as error:
        report.failures.append({"order": order.pk, "client_order_id": order.client_order_id, **_failure_or_down(error)})
        report.status_changes += order_lost_check(order_id=order.pk)
        return
    except ExchangeCallError as error:
        report.failures.append({"order": order.pk, "client_order_id": order.client_order_id, **_failure_or_down(error)})
        return
    except IllegalTransitionError as error:  # e.g. "rejected" for an order the exchange had booked
        report.failures.append(
            {
                "order": order.pk,
                "client_order_id": order.client_order_id,
                "error_class": "illegal_transition",
                "error": str(error),
            }
        )
        return
    report.fills_applied += order.fills.count() - fills
    report.status_changes += order.status != status


def order_lost_check(*, order_id: int) -> bool:
    """The exchange answered "no such order" for an order the desk holds as live. Once it did so
    RESOLVE_NOT_FOUND_LOOKUPS times in a row, the last more than RESOLVE_SAFE_AGE after the order
    was sent, the order is settled as EXPIRED (lost) with the reason and an alert-grade event
    (`order.lost`, severity critical): it no longer counts as live, and a trader looks at it. If
    it turns up on the exchange after all, the open-orders scan reports the mismatch."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("market").get(pk=order_id)
        if order.status not in POLLED:
            return False
        order.resolve_attempts += 1
        order.save(update_fields=["resolve_attempts", "updated_at"])
        age = timezone.now() - (order.submitted_at or order.created_at)
        if order.resolve_attempts < resolve_not_found_lookups() or age < resolve_safe_age():
            return False
        reason = (
            f"lost: the exchange has no order {order.client_order_id} ({order.resolve_attempts} look-ups in a row "
            f"found nothing, {age.total_seconds():.0f} s after it was sent); settled as expired, check the account"
        )
        order_transition(order, S.EXPIRED, cause=f"reconciliation: {reason}", reason=reason)
        event_record("order.lost", {**order_payload(order), "severity": "critical", "cause": reason}, account=order.account_id)
    log.error("order lost: the exchange does not know it", order=order_id, client_order_id=order.client_order_id)
    return True


def _exchange_report(venue, order: Order) -> VenueOrder:
    """The order as the exchange has it, with all its trades (outside any transaction). Unlike
    the submit path, a failed trades fetch fails the order's check: nothing is applied."""
    report = venue_call(order.account_id, lambda: venue.order_fetch(order))
    if report.filled > 0 and not report.trades_complete and report.venue_order_id:
        report.trades = venue_call(order.account_id, lambda: venue.trades_fetch(order, report.venue_order_id))
    return report


# --- The exchange's open orders ------------------------------------------------------------


def _open_orders_scan(venue, account: ExchangeAccount, orders: list[Order], report: ReconcileReport) -> None:
    """Open orders we did not place are reported, NOT canceled: a trader may have placed them by
    hand, and reconciliation never sends nor cancels anything."""
    symbols = _symbols(account, orders)
    if not symbols:
        return
    try:
        found = venue_call(account.pk, lambda: venue.open_orders_fetch(symbols))
    except ExchangeCallError as error:
        report.failures.append({"scan": "open orders", **_failure_or_down(error)})
        return
    report.scanned = True
    # Read after the fetch: an order the desk places is in this table before it is sent.
    ours = dict(
        Order.objects.filter(account=account, client_order_id__in=[o.client_order_id for o in found]).values_list(
            "client_order_id", "status"
        )
    )
    for open_order in found:
        status = ours.get(open_order.client_order_id)
        if status is None:
            report.unknown_orders.append(_open_order_payload(open_order))
        elif status in TERMINAL:  # e.g. EXPIRED as "never booked", yet booked after all
            report.status_mismatches.append({**_open_order_payload(open_order), "desk_status": status})


def _symbols(account: ExchangeAccount, orders: list[Order]) -> list[str]:
    """The markets the account trades or holds, and those of its orders of the last 24 h."""
    recent = (
        Order.objects.filter(account=account, created_at__gte=timezone.now() - SETTLED_WINDOW)
        .order_by()
        .values_list("market__symbol", flat=True)
        .distinct()
    )
    return sorted({market.symbol for market in account_markets(account)} | set(recent) | {o.market.symbol for o in orders})


def _open_order_payload(found: VenueOpenOrder) -> dict:
    return {
        "symbol": found.symbol,
        "venue_order_id": found.venue_order_id,
        "client_order_id": found.client_order_id,
        "side": found.side,
        "type": found.type,
        "amount": str(found.amount),
        "filled": str(found.filled),
        "price": str(found.price) if found.price is not None else None,
    }


# --- What is recorded ----------------------------------------------------------------------


def _summary_record(report: ReconcileReport) -> None:
    account_id, summary = report.account_id, report.summary()
    with transaction.atomic():
        seen_before = reconcile_last_scan(account_id=account_id) if report.scanned else {}
        for kind, found, ids_key in (
            ("reconcile.unknown_order", report.unknown_orders, "unknown_order_ids"),
            ("reconcile.status_mismatch", report.status_mismatches, "status_mismatch_ids"),
        ):
            for payload in found:
                if payload["venue_order_id"] not in seen_before.get(ids_key, ()):
                    event_record(kind, {"account": account_id, **payload}, account=account_id)
        event_record("reconcile.completed", summary, account=account_id)
    troubled = report.aborted or report.failures or report.unknown_orders or report.status_mismatches
    (log.warning if troubled else log.info)("reconciliation completed", **summary)


def reconcile_last_scan(*, account_id: int) -> dict:
    """The summary of the last run that listed the exchange's open orders ({} before the first)."""
    last = event_latest("reconcile.completed", payload_match={"scanned": True}, account=account_id)
    return last.payload if last else {}


def reconciliation_ages_read() -> dict[str, float | None]:
    """Seconds since each sim/live account's last full reconciliation (None: never), for
    /metrics and /health/deep (installed in apps.common.ops_hooks by the trading app)."""
    now = timezone.now()
    ages: dict[str, float | None] = {}
    for account_id, name in ExchangeAccount.objects.exclude(mode=ExchangeAccount.Mode.PAPER).values_list("pk", "name"):
        last = event_latest("reconcile.completed", payload_match={"scanned": True}, account=account_id)
        ages[name] = (now - last.created_at).total_seconds() if last else None
    return ages
