"""Which outbox events are alerts, how urgent, under which dedup key, and in which words.

Built-in kinds are on by default. Any other kind of the catalogue becomes an alert when an active
AlertRule names it. The dedup key makes the same finding one alert, also when the event is read
twice (a restart) or repeated (reconciliation finds the same unknown order on every pass).
"""

from collections.abc import Callable
from dataclasses import dataclass

from apps.alerts.models import Priority
from apps.common.events import topic_parse
from apps.common.models import Event
from apps.strategies.models.promotion import REVIEW_PAUSE_PREFIX


@dataclass(frozen=True)
class AlertSpec:
    kind: str
    priority: int
    dedup_key: str
    title: str
    body: str
    account_id: int | None
    event_kind: str  # the event's kind (a rule may name it, or the alert's kind)
    built_in: bool = True  # False: raised only because a rule names the event's kind
    event_id: int | None = None


@dataclass(frozen=True)
class BuiltIn:
    priority: int
    describe: Callable[[dict], tuple[str, str]]  # payload -> (title, body)
    key: Callable[[Event], str] = lambda event: f"event:{event.id}"
    applies: Callable[[dict], bool] = lambda payload: True
    kind: str | None = None  # the alert's kind when it is not the event's


def _order(verb: str) -> Callable[[dict], tuple[str, str]]:
    def describe(p: dict) -> tuple[str, str]:
        title = f"Order {verb}: {p.get('side', '')} {p.get('amount', '')} {p.get('market', '')}".strip()
        body = f"Order {p.get('client_order_id')} {verb}" + (f": {p['reason']}" if p.get("reason") else ".")
        return title, body

    return describe


def _reconcile_unknown(p: dict) -> tuple[str, str]:
    return (
        f"Unknown order on the exchange: {p.get('symbol')}",
        f"The exchange has order {p.get('venue_order_id')} ({p.get('side')} {p.get('amount')} {p.get('symbol')}) "
        "that the desk did not place or does not know.",
    )


def _reconcile_mismatch(p: dict) -> tuple[str, str]:
    return (
        f"Order status differs from the exchange: {p.get('symbol')}",
        f"Order {p.get('client_order_id') or p.get('venue_order_id')} is {p.get('desk_status')} on the desk "
        "but not on the exchange.",
    )


def _reconcile_failed(p: dict) -> tuple[str, str]:
    return "Reconciliation failed", f"Reconciliation could not check the account: {p.get('failures')}"


def _holdings(title: str) -> Callable[[dict], tuple[str, str]]:
    def describe(p: dict) -> tuple[str, str]:
        return (
            f"{title}: {p.get('amount')} {p.get('symbol')}",
            f"The exchange holds {p.get('exchange_amount')} beyond the baseline where the desk held "
            f"{p.get('desk_amount')}; recorded as {p.get('side')} {p.get('amount')} at {p.get('price')} "
            f"({p.get('client_order_id')}). Position now {p.get('position_amount')}" + (" (closed)." if p.get("closed") else "."),
        )

    return describe


def _holdings_failing(p: dict) -> tuple[str, str]:
    return (
        "Holdings reconciliation failing",
        f"{p.get('failures')} holdings reconciliations in a row failed: {p.get('error')}. "
        "The desk cannot see what the exchange holds.",
    )


def _strategy_paused(p: dict) -> tuple[str, str]:
    return f"Strategy #{p.get('strategy')} paused", p.get("reason") or "Paused after failures."


def _strategy_breached(p: dict) -> tuple[str, str]:
    return (
        f"Strategy #{p.get('strategy')} {p.get('action') or 'flagged'} by the daily review: {p.get('rule')}",
        p.get("reason") or p.get("detail") or "",
    )


def _strategy_promoted(p: dict) -> tuple[str, str]:
    return (
        f"Strategy #{p.get('strategy')} promoted to {p.get('to')}",
        f"Approved by {p.get('by')}. {p.get('reason') or ''}".strip(),
    )


def _strategy_diverged(p: dict) -> tuple[str, str]:
    return f"Strategy #{p.get('strategy')} diverged from its backtest on {p.get('day')}", p.get("summary") or ""


BUILT_IN: dict[str, BuiltIn] = {
    "risk.action_taken": BuiltIn(
        Priority.CRITICAL,
        lambda p: ("Kill switch changed", p["reason"]),
        key=lambda event: f"risk_event:{event.payload['risk_event']}",
        applies=lambda p: p.get("rule") == "kill_switch",
        kind="kill_switch",
    ),
    "order.rejected": BuiltIn(Priority.HIGH, _order("rejected"), key=lambda event: f"order.rejected:{event.payload['order']}"),
    "order.unknown": BuiltIn(
        Priority.CRITICAL, _order("has an unknown outcome"), key=lambda event: f"order.unknown:{event.payload['order']}"
    ),
    "order.expired": BuiltIn(Priority.NORMAL, _order("expired"), key=lambda event: f"order.expired:{event.payload['order']}"),
    # A pause by the daily review is alerted by its strategy.rule_breached event (the rule, in words).
    "strategy.paused": BuiltIn(
        Priority.HIGH, _strategy_paused, applies=lambda p: not str(p.get("reason", "")).startswith(REVIEW_PAUSE_PREFIX)
    ),
    "strategy.rule_breached": BuiltIn(
        Priority.HIGH, _strategy_breached, key=lambda e: f"strategy.rule_breached:{e.payload['review']}:{e.payload['rule']}"
    ),
    "strategy.promoted": BuiltIn(Priority.NORMAL, _strategy_promoted, applies=lambda p: p.get("to") == "live"),
    "strategy.diverged": BuiltIn(
        Priority.HIGH, _strategy_diverged, key=lambda e: f"strategy.diverged:{e.payload['strategy']}:{e.payload['day']}"
    ),
    "reconcile.unknown_order": BuiltIn(
        Priority.CRITICAL,
        _reconcile_unknown,
        key=lambda e: f"reconcile.unknown_order:{e.payload['account']}:{e.payload['venue_order_id']}",
    ),
    "reconcile.status_mismatch": BuiltIn(
        Priority.HIGH,
        _reconcile_mismatch,
        key=lambda e: (
            f"reconcile.status_mismatch:{e.payload['account']}:{e.payload['venue_order_id']}:{e.payload['desk_status']}"
        ),
    ),
    "holdings.external_close": BuiltIn(
        Priority.CRITICAL,
        _holdings("Position closed outside the desk"),
        key=lambda e: f"holdings:{e.payload['client_order_id']}",
    ),
    "holdings.external_found": BuiltIn(
        Priority.HIGH, _holdings("External position"), key=lambda e: f"holdings:{e.payload['client_order_id']}"
    ),
    "holdings.mismatch_corrected": BuiltIn(
        Priority.HIGH, _holdings("Quantity mismatch corrected"), key=lambda e: f"holdings:{e.payload['client_order_id']}"
    ),
    "holdings.reconcile_failing": BuiltIn(Priority.CRITICAL, _holdings_failing),
    "reconcile.completed": BuiltIn(
        Priority.HIGH, _reconcile_failed, applies=lambda p: bool(p.get("failed")), kind="reconcile.failed"
    ),
}


def event_account_id(event: Event) -> int | None:
    match = topic_parse(event.topic)
    return match.account_id if match else None


def built_in_alert(event: Event) -> AlertSpec | None:
    """The built-in alert an event raises, or None."""
    built_in = BUILT_IN.get(event.kind)
    if built_in is None or not built_in.applies(event.payload):
        return None
    title, body = built_in.describe(event.payload)
    return AlertSpec(
        kind=built_in.kind or event.kind,
        priority=built_in.priority,
        dedup_key=built_in.key(event),
        title=title[:200],
        body=body,
        account_id=event_account_id(event),
        event_kind=event.kind,
        event_id=event.id,
    )


def rule_alert(event: Event, *, priority: int) -> AlertSpec:
    """The alert a rule raises from an event of a kind that is not built in."""
    summary = ", ".join(f"{name}={value}" for name, value in sorted(event.payload.items()) if value not in (None, ""))
    return AlertSpec(
        kind=event.kind,
        priority=priority,
        dedup_key=f"event:{event.id}",
        title=event.kind,
        body=summary[:2000],
        account_id=event_account_id(event),
        event_kind=event.kind,
        built_in=False,
        event_id=event.id,
    )
