"""Placement: pending signals -> risk rules -> NEW orders (or rejections with the reason).

One transaction per account, under the account's row lock: the account book (trading.book) is
read once, then the signals are placed one after another in id order, each decided against the
book as the signals before it left it (their orders count toward exposure, rate caps and open
positions), so two signals never both pass a limit that only one of them fits. The rows are
written in bulk at the end (RiskEvents, Orders, OrderEvents, outbox events, signal statuses),
in the order a one-by-one placement would have written them; before any side effect that
writes its own rows (a strategy failure that may pause it) the writes so far are flushed.
"""

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.common.bulk import COPY_FROM, rows_write, unsaved
from apps.common.events import events_append
from apps.common.logging import get_logger
from apps.common.models import Event
from apps.engine.order_fsm import OrderStatus as S
from apps.engine.risk_rules import STRATEGY_FAULTS, Proposal
from apps.risk.models import RiskEvent
from apps.risk.services import risk_decide, risk_event_build, risk_event_outbox
from apps.risk.sizing import EntrySizer
from apps.trading.amounts import quantize_amount
from apps.trading.book import AccountBook, account_book_load, account_lock
from apps.trading.dispatch import task_queue
from apps.trading.models import Order, OrderEvent, Signal
from apps.trading.services.orders import order_event_outbox
from apps.trading.services.risk_state import desk_state
from apps.trading.services.signals import client_order_id_for, signal_rejected_outbox

ZERO = Decimal(0)
WAIT = ("wait", "")  # a close that waits for its entry's fills
log = get_logger(__name__)
Outbox = Event | Callable[[], Event]  # built once the row it describes has its id


def signal_execute(*, signal_id: int) -> Order | None:
    """Turn a pending signal into a NEW order, or reject it with the reason. A signal already
    handled returns its order (or None)."""
    return signals_place(signal_ids=[signal_id]).get(signal_id)


def signals_place(*, signal_ids: list[int], account_id: int | None = None) -> dict[int, Order | None]:
    """Place several signals: one transaction and one account lock per account (accounts in id
    order, so two batches never wait for each other in a cycle). {signal id: order or None}.
    `account_id`: every signal is that account's (the caller just made them); saves a query."""
    by_account: dict[int, list[int]] = defaultdict(list)
    if account_id is not None:
        by_account[account_id] = sorted(signal_ids)
    for signal_id, owner in (
        () if account_id else Signal.objects.filter(pk__in=signal_ids).order_by("pk").values_list("pk", "account_id")
    ):
        by_account[owner].append(signal_id)
    placed: dict[int, Order | None] = {}
    for account_id in sorted(by_account):
        placed.update(_account_place(account_id, by_account[account_id]))
    return placed


def account_signals_place(*, account_id: int, signal_ids: list[int]) -> dict[int, Order | None]:
    """Place these signals together with the account's other pending signals: strategies
    evaluated on the same candle share one lock and one transaction instead of queueing for it
    one by one (whoever takes the lock first places them all; the others find theirs done)."""
    pending = Signal.objects.filter(account_id=account_id, status=Signal.Status.PENDING)
    ids = set(signal_ids) | set(pending.values_list("pk", flat=True))
    return signals_place(signal_ids=sorted(ids), account_id=account_id)


def signals_sweep(*, older_than: timedelta = timedelta(seconds=10)) -> dict[str, int]:
    """Safety net (beat): a signal still PENDING after `older_than` (its worker was lost, or a
    close waits for its entry's fills) is placed now, account by account. Placement decides as
    ever: an entry on a candle that is no longer the newest is refused with the reason, a close
    is placed whatever its age."""
    pending = (
        Signal.objects.filter(status=Signal.Status.PENDING, created_at__lt=timezone.now() - older_than)
        .order_by("pk")
        .values_list("account_id", "pk")
    )
    by_account: dict[int, list[int]] = defaultdict(list)
    for account_id, signal_id in pending:
        by_account[account_id].append(signal_id)
    counts = {"signals_swept": 0, "signals_failed": 0}
    for account_id, signal_ids in by_account.items():
        try:
            signals_place(signal_ids=signal_ids, account_id=account_id)
            counts["signals_swept"] += len(signal_ids)
        except Exception:
            log.exception("pending signals not placed", account=account_id)
            counts["signals_failed"] += len(signal_ids)
    return counts


def _account_place(account_id: int, signal_ids: list[int]) -> dict[int, Order | None]:
    with transaction.atomic():
        locked = account_lock(account_id=account_id)
        # Read under the lock: another worker may have handled a signal, or the strategy paused.
        # A few signals read their strategy in the same query; a large batch reads it once beside.
        joined = ("market", "strategy") if len(signal_ids) < COPY_FROM else ("market",)
        signals = _shared_strategies(
            list(Signal.objects.filter(pk__in=signal_ids, account_id=account_id).select_related(*joined).order_by("pk"))
        )
        pending = [signal for signal in signals if signal.status == Signal.Status.PENDING]
        placed = _orders_of([signal.pk for signal in signals if signal.status != Signal.Status.PENDING])
        if pending:
            placement = Placement(account_book_load(locked=locked, signals=pending))
            placed.update({signal.pk: placement.place(signal) for signal in pending})
            placement.flush()
            created = [order.pk for order in placement.orders]
            transaction.on_commit(lambda: [task_queue("order_submit", order_id) for order_id in created])
    return placed


def entry_resend_decide(*, order: Order) -> str:
    """An entry proven never booked is resent only if it passes today's risk decision, as a fresh
    entry would now: the stale-entry rule, every risk rule (price deviation against the last price
    now, the kill switch, limits...), recorded as a RiskEvent. Returns why it is refused ('' when
    it may be resent). Inside the resolver's transaction, the order locked; takes the account lock
    as placement does, and decides against the book without this order (it is not a second one)."""
    if order.signal_id is None:
        return ""
    locked = account_lock(account_id=order.account_id)
    signal = Signal.objects.select_related("market", "strategy").get(pk=order.signal_id)
    placement = Placement(account_book_load(locked=locked, signals=[signal]))
    placement.book.order_withdrawn(order)
    refusal = placement.recheck(signal, order.remaining)
    placement.flush()
    return refusal


def _shared_strategies(signals: list[Signal]) -> list[Signal]:
    """One Strategy object per strategy, so a pause seen by one signal is seen by the next (those
    the signals' query did not join read in one more: a hundred signals of one strategy read its
    row once)."""
    from apps.strategies.models import Strategy

    shared = {signal.strategy_id: signal.strategy for signal in signals if Signal.strategy.is_cached(signal)}
    wanted = {signal.strategy_id for signal in signals if signal.strategy_id} - shared.keys()
    shared |= Strategy.objects.in_bulk(wanted) if wanted else {}
    for signal in signals:
        if signal.strategy_id in shared:
            signal.strategy = shared[signal.strategy_id]
    # A strategy deleted since the signals were read takes its signals along: not placed.
    return [signal for signal in signals if not signal.strategy_id or signal.strategy_id in shared]


def _orders_of(signal_ids: list[int]) -> dict[int, Order | None]:
    if not signal_ids:
        return {}
    found = {order.signal_id: order for order in Order.objects.filter(signal_id__in=signal_ids)}
    return {signal_id: found.get(signal_id) for signal_id in signal_ids}


class Placement:
    """The signals of one account placed in one transaction, against its book."""

    def __init__(self, book: AccountBook):
        self.book = book
        self.goal_sizing = EntrySizer(book.account.pk)
        self.orders: list[Order] = []
        self._risk_events: list[RiskEvent] = []
        self._new_orders: list[Order] = []
        self._order_events: list[tuple[Order, str]] = []  # (order, cause) of each NEW
        self._outbox: list[Outbox] = []
        self._accepted: list[int] = []
        self._rejected: list[Signal] = []

    def place(self, signal: Signal) -> Order | None:
        refusal, amount = self._size(signal)
        if refusal == WAIT:
            return None  # stays PENDING: the sweep places it once its entry's fills are in
        if refusal:
            self._risk_record(
                risk_event_build(
                    signal=signal,
                    account_id=signal.account_id,
                    strategy_id=signal.strategy_id,
                    rule=refusal[0],
                    reason=refusal[1],
                )
            )
            self._reject(signal, refusal[1])
            return None
        proposal = Proposal(reduces=signal.intent == Signal.Intent.CLOSE, notional=amount * signal.price, price=signal.price)
        decision = self._decide(signal, proposal)
        self._risk_record(
            risk_event_build(signal=signal, account_id=signal.account_id, strategy_id=signal.strategy_id, decision=decision)
        )
        if not decision.allowed:
            self._reject(signal, decision.reason)
            if signal.strategy and any(check.rule in STRATEGY_FAULTS for check in decision.failed):
                self._strategy_failure(signal.strategy, f"signal refused: {decision.reason}")
            return None
        return self._order_create(signal, amount)

    def recheck(self, signal: Signal, amount: Decimal) -> str:
        """The entry decision again, as of now, for an order already made from `signal`: the
        refusal reason, or '' (recorded either way; the signal keeps its status: its order exists)."""
        stale, paused = self._stale(signal), self.goal_sizing.entries_paused()
        if stale or paused:
            self._risk_record(
                risk_event_build(
                    signal=signal,
                    account_id=signal.account_id,
                    strategy_id=signal.strategy_id,
                    rule="stale_signal" if stale else "goal_drawdown",
                    reason=f"resend refused: {stale or paused}",
                )
            )
            return stale or paused
        proposal = Proposal(reduces=False, notional=amount * signal.price, price=signal.price)
        decision = self._decide(signal, proposal)
        self._risk_record(
            risk_event_build(signal=signal, account_id=signal.account_id, strategy_id=signal.strategy_id, decision=decision)
        )
        return "" if decision.allowed else decision.reason

    def _decide(self, signal: Signal, proposal: Proposal):
        """The risk rules over the book as plain data, with the limits in force for the signal."""
        state = desk_state(book=self.book, signal=signal, price=proposal.price)
        return risk_decide(state=state, proposal=proposal, limits=self._limits(signal))

    def _limits(self, signal: Signal):
        """The signal's limits with the goals' risk stance (never above the trader's values)."""
        return self.goal_sizing.limits_in_force(self.book.limits[signal.strategy_id])

    # --- sizing -----------------------------------------------------------------------

    def _size(self, signal: Signal) -> tuple[tuple[str, str] | None, Decimal]:
        """(refusal (rule, reason) or None, amount in base)."""
        market = signal.market
        if signal.intent == Signal.Intent.OPEN and signal.side == "sell":
            return ("spot_only", "short entries are not supported: the desk trades spot"), ZERO
        if signal.intent == Signal.Intent.CLOSE and signal.side == "buy":
            return ("spot_only", "no short position to close: the desk trades spot"), ZERO
        if signal.intent == Signal.Intent.CLOSE:
            if self.book.external(market.pk) and signal.source != Signal.Source.OPERATOR:
                return (
                    "external_position",
                    f"the {market.base} position was bought outside the desk: no strategy trades it until an admin adopts it",
                ), ZERO
            held = self.book.position_amount(market.pk) - self.book.being_sold(market.pk)
            amount = quantize_amount(held, market.amount_precision)  # the whole tradable amount
            if signal.size is not None and ZERO < signal.size < 1:  # a partial close (halving a position)
                amount = quantize_amount(held * signal.size, market.amount_precision)
            if amount <= 0 and self.book.buying(market.pk):
                return WAIT, ZERO  # the entry's fills are not in yet: close once they are
            if amount <= 0:
                return ("nothing_to_close", f"no open {market.base} position to close"), ZERO
            if amount * signal.price < market.min_notional:  # dust (Position.is_open): the exchange refuses to sell it
                return (
                    "nothing_to_close",
                    (
                        f"no open {market.base} position to close: {held.normalize():f} {market.base} is dust "
                        f"(worth less than the minimum order value {market.min_notional.normalize():f} {market.quote})"
                    ),
                ), ZERO
            return None, amount
        stale = self._stale(signal)
        if stale:
            return ("stale_signal", stale), ZERO
        paused = self.goal_sizing.entries_paused()
        if paused:
            return ("goal_drawdown", paused), ZERO
        quote = self._entry_quote(signal)
        # Goal-aware sizing last, before the hard limits (it caps any increase; the rules decide).
        quote = self.goal_sizing.apply(
            signal=signal,
            quote=quote,
            limits=self._limits(signal),
            equity=self.book.equity(market.quote),
            exposure=self.book.exposure(market.pk, signal.price),
        )
        # The fee is paid out of the allocation, as the backtest sizes: cost + fee <= allocation.
        unit_cost = self.book.unit_cost(market, signal.price)
        amount = quantize_amount(quote / unit_cost, market.amount_precision) if signal.price > 0 else ZERO
        if amount <= 0:
            return (
                "size",
                f"the allocation {quote:.2f} {market.quote} buys less than one amount step ({market.amount_precision})",
            ), ZERO
        return None, amount

    def _stale(self, signal: Signal) -> str:
        """Why an entry is too late to trade ('' when it is not): a newer candle of its timeframe
        closed since (a backed-up queue, a lost worker). With the fresh-data rule, an entry is
        placed only on the newest candle, itself at most two periods old."""
        timeframe = signal.strategy.timeframe if signal.strategy else "1m"
        newest = self.book.newest_candle.get((signal.market_id, timeframe))
        if newest is None or newest <= signal.candle_time:
            return ""
        return (
            f"expired: a newer {timeframe} candle ({newest:%Y-%m-%d %H:%M} UTC) closed after its candle "
            f"({signal.candle_time:%H:%M}); a late entry would trade on a stale decision"
        )

    def _entry_quote(self, signal: Signal) -> Decimal:
        from apps.strategies.models import Strategy

        strategy = signal.strategy
        if strategy is None:
            return ZERO
        if strategy.allocation_type == Strategy.Allocation.EQUITY_PCT:
            quote = self.book.equity(signal.market.quote) * strategy.allocation_value / 100
        else:
            quote = strategy.allocation_value
        if signal.size is not None and ZERO < signal.size <= 1:
            quote *= signal.size
        return quote

    # --- what the placement writes (in bulk, in order) ------------------------------------

    def _risk_record(self, event: RiskEvent) -> None:
        self._risk_events.append(event)
        self._outbox.append(lambda: risk_event_outbox(event))

    def _reject(self, signal: Signal, reason: str) -> None:
        signal.status, signal.rejection_reason = Signal.Status.REJECTED, reason
        self._rejected.append(Signal(pk=signal.pk, status=Signal.Status.REJECTED, rejection_reason=reason[:4000]))
        self._outbox.append(signal_rejected_outbox(signal))

    def _order_create(self, signal: Signal, amount: Decimal) -> Order:
        order = Order(
            account=self.book.account,
            market=signal.market,
            strategy=signal.strategy,
            signal=signal,
            client_order_id=client_order_id_for(signal),
            side=signal.side,
            type=Order.Type.MARKET,
            reduce_only=signal.intent == Signal.Intent.CLOSE,
            price=signal.price,
            amount=amount,
            status=S.NEW.value,
        )
        cause = f"created from signal #{signal.pk}: {signal.reason}"
        self._new_orders.append(order)
        self._order_events.append((order, cause[:4000]))  # made once the order has its id
        self._outbox.append(lambda: order_event_outbox(order, S.NEW, cause))
        self._accepted.append(signal.pk)
        self.book.order_added(order)
        self.orders.append(order)
        if signal.strategy and signal.strategy.consecutive_failures:
            from apps.trading.services.strategy_health import strategy_success_record

            strategy_success_record(strategy_id=signal.strategy_id)
            signal.strategy.consecutive_failures = 0
        return order

    def _strategy_failure(self, strategy, reason: str) -> None:
        """Counted (and the strategy maybe paused) after the writes so far, as one by one."""
        from apps.strategies.models import Strategy
        from apps.trading.services.strategy_health import strategy_failure_record

        self.flush()
        strategy_failure_record(strategy_id=strategy.pk, reason=reason)
        strategy.status, strategy.consecutive_failures = (
            Strategy.objects.filter(pk=strategy.pk).values_list("status", "consecutive_failures").get()
        )

    def flush(self) -> None:
        assert transaction.get_connection().in_atomic_block, "place inside the account's transaction"
        rows_write(RiskEvent, self._risk_events, ids=True)  # their outbox events name them
        rows_write(Order, self._new_orders, ids=True)
        rows_write(
            OrderEvent,
            [
                unsaved(OrderEvent, order_id=order.pk, from_status="", to_status=S.NEW.value, cause=cause, data={})
                for order, cause in self._order_events
            ],
        )
        events_append([entry() if callable(entry) else entry for entry in self._outbox])
        self.goal_sizing.flush()  # the goal-aware sizing decisions, logged with the orders they sized
        if self._accepted:
            Signal.objects.filter(pk__in=self._accepted).update(status=Signal.Status.ACCEPTED)
        if self._rejected:
            Signal.objects.bulk_update(self._rejected, ["status", "rejection_reason"])
        self._risk_events, self._new_orders, self._order_events, self._outbox = [], [], [], []
        self._accepted, self._rejected = [], []
