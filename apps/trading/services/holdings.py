"""Holdings reconciliation: what the desk holds, compared with what the exchange holds.

Order reconciliation (services/reconcile.py) makes the desk's orders right; this compares the
result with the exchange's balances. For every base asset the account trades or holds:

    held on the exchange = balance (free + used) - the account's external holdings baseline
    held by the desk     = the positions of the account's markets of that base (from fills)

and when they differ by more than one amount step (the market's step), the desk records what
happened outside it as a synthetic fill on an adjustment order (never sent; type ADJUST):

- the exchange holds less (sold or withdrawn by hand, liquidated): the position is reduced, or
  closed, with reason `external_close`, at the exchange's last trade price (the realized P&L);
  a closed position loses its protective exits. Event `holdings.external_close` (critical).
- the exchange holds more and the desk holds a position there (a fill the desk missed): the
  position is corrected with a synthetic buy. Event `holdings.mismatch_corrected`.
- the exchange holds more and the desk holds nothing there (bought by hand): an `external`
  position is recorded; risk counts it (exposure, max position %, open positions), no strategy
  trades it until an admin adopts it (services/external.py). Event `holdings.external_found`.

Exactly once. The synthetic fill's id (and its order's client_order_id) is a hash of what was
seen: account, market, side, amount, the newest fill of those markets and the exchange's
amount. A replay finds the order (unique client_order_id, unique fill per order and trade id).
Two reconciliations at once: each applies under the account's row lock (as placement does)
and first checks that no fill was applied and no order is in flight in those markets since it
read the desk's side; the second finds the first one's fill and leaves the market alone.
A market with an order in flight is skipped this pass: the exchange may already hold what the
desk has not applied yet.

The first reconciliation of an account sets its baseline (what the exchange holds beyond the
desk's positions: it was there before the desk). A success opens the start gate
(apps/trading/holdings_gate.py); TRADING_HOLDINGS_FAILURES_ALERT failures in a row record
`holdings.reconcile_failing` (critical) once per episode.
"""

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.engine.order_fsm import OrderStatus as S
from apps.exchanges.errors import ExchangeCallError
from apps.exchanges.models import ExchangeAccount
from apps.markets.models import Market
from apps.trading.book import account_lock
from apps.trading.models import Balance, Fill, HoldingsBaseline, HoldingsState, Order, Position
from apps.trading.selectors import LIVE_STATUSES
from apps.trading.services.accounts import account_markets
from apps.trading.services.fills import fill_apply
from apps.trading.services.orders import order_event_record, venue_call
from apps.trading.venue_health import venue_outage_long, venue_outage_reconciled
from apps.trading.venues import VenueTrade, venue_for

log = get_logger(__name__)
ZERO = Decimal(0)
EXTERNAL_CLOSE = "external_close"
SEVERITY = {"holdings.external_close": "critical", "holdings.mismatch_corrected": "warning", "holdings.external_found": "warning"}


@dataclass
class Finding:
    """One correction: a synthetic fill of `amount` on `market` (side buy or sell)."""

    kind: str  # holdings.external_close | holdings.mismatch_corrected | holdings.external_found
    account_id: int
    market: Market
    side: str
    amount: Decimal
    desk_amount: Decimal  # what the desk held of the base (all its markets of that base)
    exchange_amount: Decimal  # what the exchange holds beyond the baseline
    fill_mark: int  # the newest fill of the base's markets when the desk's side was read
    price: Decimal | None = None

    @property
    def key(self) -> str:
        seen = f"{self.market.pk}:{self.side}:{self.amount}:{self.fill_mark}:{self.exchange_amount}"
        return "rx-" + hashlib.sha256(f"{self.account_id}:{seen}".encode()).hexdigest()[:32]


@dataclass
class HoldingsReport:
    account_id: int
    bases: int = 0
    findings: list[Finding] = field(default_factory=list)
    corrections: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # base asset -> why it was left alone
    failed: str = ""
    exchange_seconds: float = 0.0
    desk_seconds: float = 0.0
    gate_opened: bool = False
    baseline_set: bool = False


@dataclass
class DeskSide:
    """The desk's side of one account, read before the exchange is asked."""

    markets: dict[int, Market]
    positions: dict[int, Position]  # market id -> position
    fill_marks: dict[int, int]  # market id -> newest fill id
    in_flight: set[int]  # market ids with an order on its way


class _Timer:
    def __init__(self):
        self.exchange = 0.0

    def call(self, account_id: int, fn):
        started = time.perf_counter()
        try:
            return venue_call(account_id, fn)
        finally:
            self.exchange += time.perf_counter() - started


def holdings_reconcile(*, account_id: int) -> HoldingsReport:
    """One pass over the account. Never raises an exchange error: a failure is counted."""
    began = time.perf_counter()
    started, started_epoch = timezone.now(), time.time()
    account = ExchangeAccount.objects.select_related("exchange").get(pk=account_id)
    report, timer = HoldingsReport(account_id=account_id), _Timer()
    if account.mode == ExchangeAccount.Mode.PAPER:
        report.skipped["*"] = "paper account: the paper venue is the desk's own book"
        return report
    venue = venue_for(account)
    try:
        desk = desk_side_read(account)
        balances = timer.call(account_id, venue.balances_fetch) or {}
        balances_store(account_id=account_id, balances=balances)
        totals = {asset: free + used for asset, (free, used) in balances.items()}
        desk = desk_side_extend(account, desk, totals)
        baseline, report.baseline_set = baseline_ensure(account, desk, totals)
        findings = holdings_compare(desk, totals, baseline, report)
        for finding in findings:
            finding.price = timer.call(account_id, lambda symbol=finding.market.symbol: venue.last_price(symbol))
        for base_findings in _by_base(findings).values():
            report.corrections += findings_apply(account_id=account_id, findings=base_findings)
        report.findings = findings
    except ExchangeCallError as error:
        report.failed = f"the exchange did not answer ({error.error_class}): {str(error)[:200]}"
    except Exception as error:  # counted as a failure like any other: five in a row are an alert, never a crash loop
        log.exception("holdings reconciliation failed unexpectedly", account=account_id)
        report.failed = f"{type(error).__name__}: {str(error)[:200]}"
    report.exchange_seconds = timer.exchange
    report.desk_seconds = time.perf_counter() - began - timer.exchange
    if report.failed:
        _failure_record(account_id, report)
    else:
        _success_record(account_id, report, started, started_epoch)
    return report


# --- The desk's side ------------------------------------------------------------------------


def desk_side_read(account: ExchangeAccount) -> DeskSide:
    """Newest fills, orders in flight and positions of the account's markets: three queries, in
    that order. Each query sees what was committed when it ran, so a fill committed between them
    must be in the positions only if it is in the marks too: read the positions last, and such a
    fill moves the mark, which the correction's re-check under the lock then sees. (Positions
    read first once missed an exit whose fill the marks already held: the pass booked an
    external close beside the real exit.)"""
    fill_marks, in_flight = _fill_marks(account.pk), _in_flight(account.pk)
    markets = {market.pk: market for market in account_markets(account)}
    positions = {p.market_id: p for p in Position.objects.filter(account=account).select_related("market")}
    markets.update({market_id: position.market for market_id, position in positions.items()})
    return DeskSide(markets=markets, positions=positions, fill_marks=fill_marks, in_flight=in_flight)


def _fill_marks(account_id: int, market_ids=None) -> dict[int, int]:
    fills = Fill.objects.filter(order__account_id=account_id)
    if market_ids is not None:
        fills = fills.filter(order__market_id__in=market_ids)
    return dict(fills.order_by().values("order__market_id").annotate(last=Max("id")).values_list("order__market_id", "last"))


def _in_flight(account_id: int, market_ids=None) -> set[int]:
    """Markets with an order the exchange may have filled before the desk applied it: live ones,
    and FILLED ones whose fills are not all in yet."""
    live = Q(status__in=LIVE_STATUSES) | Q(status=S.FILLED.value, filled__lt=F("amount"))
    orders = Order.objects.filter(live, account_id=account_id)
    if market_ids is not None:
        orders = orders.filter(market_id__in=market_ids)
    return set(orders.order_by().values_list("market_id", flat=True).distinct())


def desk_side_extend(account: ExchangeAccount, desk: DeskSide, totals: dict[str, Decimal]) -> DeskSide:
    """An asset the exchange holds that none of the account's markets trades: its market on this
    exchange (bought by hand where no strategy runs), quoted in the account's usual quote."""
    bases = {market.base for market in desk.markets.values()}
    unseen = [asset for asset, total in totals.items() if total > 0 and asset not in bases]
    if unseen:
        quotes = {market.quote for market in desk.markets.values()} or {"USDT"}
        for market in Market.objects.filter(exchange=account.exchange, base__in=unseen, quote__in=quotes).order_by("pk"):
            if market.base not in bases:
                desk.markets[market.pk] = market
                bases.add(market.base)
    return desk


def balances_store(*, account_id: int, balances: dict[str, tuple[Decimal, Decimal]]) -> None:
    """The exchange's balances as the desk's Balance rows: the changed ones, in one statement
    (every 10 s most are unchanged; a read is cheaper than rewriting them)."""
    stored = {
        asset: (free, used)
        for asset, free, used in Balance.objects.filter(account_id=account_id).values_list("asset", "free", "used")
    }
    changed = {asset: amounts for asset, amounts in balances.items() if stored.get(asset) != amounts}
    if not changed:
        return
    Balance.objects.bulk_create(
        [Balance(account_id=account_id, asset=asset, free=free, used=used) for asset, (free, used) in changed.items()],
        update_conflicts=True,
        unique_fields=["account", "asset"],
        update_fields=["free", "used", "updated_at"],
    )


# --- The baseline ----------------------------------------------------------------------------


def _desk_by_base(desk: DeskSide) -> dict[str, Decimal]:
    held: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for market_id, position in desk.positions.items():
        held[desk.markets[market_id].base] += position.amount
    return held


def baseline_ensure(account: ExchangeAccount, desk: DeskSide, totals: dict[str, Decimal]) -> tuple[dict[str, Decimal], bool]:
    """The account's baseline; on its first reconciliation, what the exchange holds beyond the
    desk's positions (it was there before the desk)."""
    state, _ = HoldingsState.objects.get_or_create(account=account)
    if state.baseline_set_at is None:
        with transaction.atomic():
            state = HoldingsState.objects.select_for_update().get(pk=state.pk)
            if state.baseline_set_at is None:
                _baseline_first(account, desk, totals, state)
                return _baseline_read(account.pk), True
    return _baseline_read(account.pk), False


def _baseline_first(account, desk: DeskSide, totals: dict[str, Decimal], state: HoldingsState) -> None:
    held = _desk_by_base(desk)
    outside = {asset: max(total - held.get(asset, ZERO), ZERO) for asset, total in totals.items()}
    HoldingsBaseline.objects.bulk_create(
        [HoldingsBaseline(account=account, asset=asset, amount=amount) for asset, amount in outside.items()],
        ignore_conflicts=True,  # an admin may have set one already
    )
    state.baseline_set_at = timezone.now()
    state.save(update_fields=["baseline_set_at"])
    event_record(
        "holdings.baseline_set",
        {"account": account.pk, "assets": {asset: str(amount) for asset, amount in outside.items() if amount}, "by": "system"},
        account=account.pk,
    )


def _baseline_read(account_id: int) -> dict[str, Decimal]:
    return dict(HoldingsBaseline.objects.filter(account_id=account_id).values_list("asset", "amount"))


# --- The comparison (plain data in, findings out) --------------------------------------------


def holdings_compare(desk: DeskSide, totals: dict, baseline: dict, report: HoldingsReport) -> list[Finding]:
    by_base: dict[str, list[Market]] = defaultdict(list)
    for market in desk.markets.values():
        by_base[market.base].append(market)
    findings = []
    for base, markets in sorted(by_base.items()):
        report.bases += 1
        if any(market.pk in desk.in_flight for market in markets):
            report.skipped[base] = "an order is on its way: compared on the next pass"
            continue
        findings += _base_compare(report.account_id, markets, desk, totals.get(base, ZERO) - baseline.get(base, ZERO))
    return findings


def _base_compare(account_id: int, markets: list[Market], desk: DeskSide, exchange: Decimal) -> list[Finding]:
    positions = sorted(
        (desk.positions[m.pk] for m in markets if m.pk in desk.positions and desk.positions[m.pk].amount > 0),
        key=lambda p: -p.amount,
    )
    held = sum((p.amount for p in positions), ZERO)
    difference = exchange - held
    step = min(m.amount_precision for m in markets)
    if abs(difference) <= step:
        return []
    mark = max((desk.fill_marks.get(m.pk, 0) for m in markets), default=0)
    seen = {"account_id": account_id, "desk_amount": held, "exchange_amount": exchange, "fill_mark": mark}
    if difference < 0:  # the exchange holds less: reduce the largest positions first
        findings, missing = [], -difference
        for position in positions:
            amount = min(missing, position.amount)
            findings.append(Finding("holdings.external_close", market=position.market, side="sell", amount=amount, **seen))
            missing -= amount
            if missing <= 0:
                break
        return findings
    desks = [p for p in positions if p.origin == Position.Origin.DESK and p.is_open]
    if desks:
        return [Finding("holdings.mismatch_corrected", market=desks[0].market, side="buy", amount=difference, **seen)]
    target = positions[0].market if positions else _primary(markets, desk)
    return [Finding("holdings.external_found", market=target, side="buy", amount=difference, **seen)]


def _primary(markets: list[Market], desk: DeskSide) -> Market:
    """Where an external holding of this base is recorded: a market with a position row, else
    the first (lowest id) of the account's markets of that base."""
    with_row = [m for m in markets if m.pk in desk.positions]
    return min(with_row or markets, key=lambda m: m.pk)


def _by_base(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[finding.market.base].append(finding)
    return grouped


# --- Applying a correction (exactly once) -------------------------------------------------------


def findings_apply(*, account_id: int, findings: list[Finding]) -> int:
    """The findings of one base asset, in one transaction under the account's lock; none when a
    fill was applied or an order started in those markets since the desk's side was read."""
    market_ids = {m.pk for m in Market.objects.filter(base=findings[0].market.base, exchange=findings[0].market.exchange_id)}
    applied = 0
    with transaction.atomic():
        account_lock(account_id=account_id)
        mark = max(_fill_marks(account_id, market_ids).values(), default=0)
        if mark != findings[0].fill_mark or _in_flight(account_id, market_ids):
            log.info("holdings correction left to the next pass: the desk moved", account=account_id)
            return 0
        for finding in findings:
            applied += finding_apply(account_id=account_id, finding=finding) is not None
    return applied


def finding_apply(*, account_id: int, finding: Finding) -> Fill | None:
    """Inside the caller's transaction and lock: the synthetic fill, the position's origin, the event."""
    cause = _cause(finding)
    fill = synthetic_fill_apply(
        account_id=account_id,
        market=finding.market,
        side=finding.side,
        amount=finding.amount,
        price=finding.price,
        key=finding.key,
        cause=cause,
    )
    if fill is None:
        return None
    position = Position.objects.select_related("market").get(account_id=account_id, market=finding.market)
    if finding.kind == "holdings.external_found":
        position.origin, position.strategy = Position.Origin.EXTERNAL, None
        position.save(update_fields=["origin", "strategy", "updated_at"])
    event_record(finding.kind, _finding_payload(account_id, finding, position, cause), account=account_id)
    log.warning(finding.kind, account=account_id, market=finding.market.symbol, amount=str(finding.amount))
    return fill


def synthetic_fill_apply(
    *, account_id: int, market: Market, side: str, amount: Decimal, price: Decimal, key: str, cause: str
) -> Fill | None:
    """An adjustment order (never sent) with one fill, both named `key`. Idempotent: a replay of
    the same key finds the order and applies nothing (None)."""
    with transaction.atomic():
        return _synthetic_fill(account_id, market, side, amount, price, key, cause)


def _synthetic_fill(account_id, market, side, amount, price, key, cause) -> Fill | None:
    order, created = Order.objects.select_for_update().get_or_create(
        client_order_id=key,
        defaults={
            "account_id": account_id,
            "market": market,
            "side": side,
            "type": Order.Type.ADJUST,
            "reduce_only": side == "sell",
            "price": price,
            "amount": amount,
            "status": S.FILLED.value,
            "reason": cause[:4000],
        },
    )
    if not created:
        return None
    order_event_record(order, "", S.FILLED.value, cause, {"synthetic": True})
    order = Order.objects.select_related("market", "account", "strategy", "signal").get(pk=order.pk)
    fill = fill_apply(
        order=order,
        trade=VenueTrade(trade_id=key, price=price, amount=amount, fee=ZERO, fee_currency="", at=timezone.now()),
    )
    order.save(update_fields=["filled", "average_price", "updated_at"])
    return fill


def _cause(finding: Finding) -> str:
    base = finding.market.base
    seen = (
        f"the exchange holds {finding.exchange_amount.normalize():f} {base} beyond the baseline, "
        f"the desk held {finding.desk_amount.normalize():f}"
    )
    if finding.kind == "holdings.external_close":
        return f"{EXTERNAL_CLOSE}: {seen}; sold or withdrawn outside the desk, {finding.amount.normalize():f} {base} at {finding.price}"
    if finding.kind == "holdings.mismatch_corrected":
        return f"quantity mismatch: {seen}; corrected by {finding.amount.normalize():f} {base} at {finding.price}"
    return f"external position: {seen}; bought outside the desk, not traded until an admin adopts it"


def _finding_payload(account_id: int, finding: Finding, position: Position, cause: str) -> dict:
    return {
        "account": account_id,
        "market": finding.market.pk,
        "symbol": finding.market.symbol,
        "position": position.pk,
        "side": finding.side,
        "amount": str(finding.amount),
        "price": str(finding.price),
        "desk_amount": str(finding.desk_amount),
        "exchange_amount": str(finding.exchange_amount),
        "position_amount": str(position.amount),
        "realized_pnl": str(position.realized_pnl),
        "closed": not position.is_open,
        "client_order_id": finding.key,
        "reason": EXTERNAL_CLOSE if finding.kind == "holdings.external_close" else cause.split(":")[0],
        "severity": SEVERITY[finding.kind],
    }


# --- Success, failure, the gate ---------------------------------------------------------------


def failures_alert_after() -> int:
    return getattr(settings, "TRADING_HOLDINGS_FAILURES_ALERT", 5)


def _quiet_success(account_id: int, started) -> bool:
    """The usual pass (gate open, no failures before): one conditional UPDATE; False when the
    state needs more than the time of the last success (the full path then)."""
    gate_open = Q(gate_closed_at__isnull=True) | Q(gate_closed_at__lt=F("last_success_at"))
    return bool(
        HoldingsState.objects.filter(gate_open, account_id=account_id, consecutive_failures=0, last_success_at__lt=started)
        .filter(failing_alerted=False)
        .update(last_success_at=started)
    )


def _failure_record(account_id: int, report: HoldingsReport) -> None:
    with transaction.atomic():
        state, _ = HoldingsState.objects.select_for_update().get_or_create(account_id=account_id)
        state.consecutive_failures += 1
        state.last_error = report.failed
        alert = state.consecutive_failures >= failures_alert_after() and not state.failing_alerted
        state.failing_alerted = state.failing_alerted or alert
        state.save(update_fields=["consecutive_failures", "last_error", "failing_alerted"])
        if alert:
            event_record(
                "holdings.reconcile_failing",
                {"account": account_id, "failures": state.consecutive_failures, "error": report.failed, "severity": "critical"},
                account=account_id,
            )
    log.warning("holdings reconciliation failed", account=account_id, error=report.failed)


def _success_record(account_id: int, report: HoldingsReport, started, started_epoch: float) -> None:
    outage = venue_outage_long(account_id=account_id)
    venue_outage_reconciled(account_id=account_id, started=started_epoch)
    if not (outage or report.corrections) and _quiet_success(account_id, started):
        return
    with transaction.atomic():
        state, _ = HoldingsState.objects.select_for_update().get_or_create(account_id=account_id)
        was_closed = bool(
            state.gate_closed_at and (state.last_success_at is None or state.last_success_at < state.gate_closed_at)
        )
        recovered = state.failing_alerted
        if state.last_success_at is None or state.last_success_at < started:
            state.last_success_at = started
        still_closed = bool(state.gate_closed_at and state.last_success_at < state.gate_closed_at)
        report.gate_opened = (was_closed or bool(outage)) and not still_closed
        state.consecutive_failures, state.failing_alerted, state.last_error = 0, False, ""
        state.save(update_fields=["last_success_at", "consecutive_failures", "failing_alerted", "last_error"])
        if report.gate_opened or report.corrections or recovered:
            event_record(
                "holdings.reconciled",
                {
                    "account": account_id,
                    "bases": report.bases,
                    "corrections": report.corrections,
                    "skipped": report.skipped,
                    "gate_opened": report.gate_opened,
                    "recovered": recovered,
                    "exchange_ms": round(report.exchange_seconds * 1000, 1),
                    "desk_ms": round(report.desk_seconds * 1000, 1),
                },
                account=account_id,
            )
