"""The account book: everything the risk rules and sizing read about one account, loaded in a
handful of queries under the account's row lock, then kept current in memory while a batch of
signals is placed in the same transaction (an order the batch creates is seen by the next
signal exactly as a fresh read would see it: same exposure, rate counts, positions opening).

A selector: it reads. Only `order_added` changes it, to mirror a row the caller just wrote.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Sum, When
from django.utils import timezone

from apps.engine.order_fsm import OrderStatus
from apps.engine.risk_rules import KillState, Limits, kill_state_combine
from apps.exchanges.models import ExchangeAccount
from apps.markets.models import CollectorStatus
from apps.risk.models import KillSwitch
from apps.risk.selectors import limits_for_many
from apps.trading.holdings_gate import gate_reason
from apps.trading.models import (
    Balance,
    Order,
    PaperSettings,
    PortfolioSnapshot,
    Position,
    Signal,
    position_is_open,
)
from apps.trading.selectors import LIVE_STATUSES, last_prices
from apps.trading.venue_health import venue_down_reason

ZERO = Decimal(0)
RATE_WINDOW = timedelta(minutes=1)
FRESHNESS_FIELDS = ("market_id", "timeframe", "last_candle_time")  # what CollectorStatus.is_fresh reads
ACKNOWLEDGED = [OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value, OrderStatus.CANCELING.value]


@dataclass
class Held:
    amount: Decimal
    marked_value: Decimal  # at the last marked price (else the entry)
    step: Decimal  # the market's amount step
    min_notional: Decimal = ZERO  # the market's minimum order value
    external: bool = False  # bought outside the desk: no strategy trades it until adopted

    @property
    def tradable(self) -> bool:
        """An open position, as Position.is_open defines it: at least one exchange step, worth at
        least the market's minimum notional. Less is dust: it cannot be sold."""
        return position_is_open(amount=self.amount, value=self.marked_value, step=self.step, min_notional=self.min_notional)


@dataclass
class AccountBook:
    account: ExchangeAccount
    kill_state: KillState
    peak_snapshot: Decimal | None
    day_start_snapshot: Decimal | None
    cash: dict[str, Decimal]
    held: dict[int, Held]
    in_flight: dict[tuple[int, str], Decimal]  # (market, side) -> amount of live orders not filled yet
    unconfirmed: dict[tuple[int, str], Decimal]  # of which the exchange has not confirmed it has them (below)
    rate_account: int
    rate_strategy: dict[int, int]
    venue_down: str
    last_price: dict[int, Decimal | None]
    fresh: dict[tuple[int, str], bool]
    newest_candle: dict[tuple[int, str], datetime | None]  # (market, timeframe) -> newest stored candle's open
    signal_rate: dict[int, int]  # signal id -> its strategy's signals in its market in the minute before it
    paper: tuple[Decimal, Decimal] | None  # the paper broker's (fee rate, slippage bps); None: an exchange
    limits: dict[int | None, Limits] = field(default_factory=dict)
    reconciling: str = ""  # the start gate: why entries wait for a holdings reconciliation

    def __post_init__(self) -> None:
        # Equity and open positions are asked for every signal of a batch: the positions do not
        # change while a batch is placed, so they are summed once; the entries in flight do, so
        # the markets they open are kept up to date by order_added / order_withdrawn rather
        # than recounted over every market (an account may trade hundreds).
        self._held_value = sum((held.marked_value for held in self.held.values() if held.amount > 0), ZERO)
        self._held_tradable = frozenset(market for market, row in self.held.items() if row.tradable)
        self._opening_not_held = {market for market, side in self.in_flight if side == "buy"} - self._held_tradable

    def equity(self, quote: str) -> Decimal:
        return self.cash.get(quote, ZERO) + self._held_value

    def equity_marks(self, equity: Decimal) -> tuple[Decimal, Decimal]:
        """(peak equity, equity at the start of today), the current one included."""
        peak = max(self.peak_snapshot or equity, equity)
        return peak, self.day_start_snapshot if self.day_start_snapshot is not None else equity

    def position_amount(self, market_id: int) -> Decimal:
        held = self.held.get(market_id)
        return held.amount if held else ZERO

    def external(self, market_id: int) -> bool:
        held = self.held.get(market_id)
        return bool(held and held.external and held.amount > 0)

    def being_sold(self, market_id: int) -> Decimal:
        return self.in_flight.get((market_id, "sell"), ZERO)

    def surely_being_sold(self, market_id: int) -> Decimal:
        """What is being sold for sure: closes the desk is sending now (NEW, SUBMITTING) or that
        the exchange acknowledged with its id. A close whose outcome is unknown, or one the
        exchange never gave an id for, may never happen: it must not let an entry in."""
        return self.being_sold(market_id) - self.unconfirmed.get((market_id, "sell"), ZERO)

    def holding(self, market_id: int, base: str) -> str:
        """'holding 0.5 BTC' / 'buying 0.5 BTC' when the account holds a tradable position in
        the market that is not being sold, or has an entry in flight there, else ''. Dust below
        one exchange step does not count: it cannot be sold and must not block the next entry.
        A position whose close is in flight does not block an entry (the backtest too lets an
        entry follow an exit on the same candle), unless the close may never happen (unknown
        outcome: surely_being_sold)."""
        held = self.held.get(market_id)
        if held and held.tradable:
            remaining = held.amount - self.surely_being_sold(market_id)
            if remaining >= held.step:
                return f"holding {remaining.normalize():f} {base}"
        buying = self.in_flight.get((market_id, "buy"), ZERO)
        return f"buying {buying.normalize():f} {base}" if buying > 0 else ""

    def unit_cost(self, market, price: Decimal) -> Decimal:
        """What one unit bought at `price` costs with the fee (and the paper broker's slippage),
        so an entry sized by it spends at most its allocation."""
        if self.paper is None:
            return price * (1 + market.taker_fee)
        fee, slippage_bps = self.paper
        return price * (1 + slippage_bps / 10_000) * (1 + fee)

    def buying(self, market_id: int) -> bool:
        return self.in_flight.get((market_id, "buy"), ZERO) > 0

    def exposure(self, market_id: int, price: Decimal) -> Decimal:
        """The position plus entries still in flight, in quote."""
        return (self.position_amount(market_id) + self.in_flight.get((market_id, "buy"), ZERO)) * price

    def open_positions(self) -> int:
        """Markets with a tradable position or an entry in flight."""
        return len(self._held_tradable) + len(self._opening_not_held)

    def order_withdrawn(self, order: Order) -> None:
        """The book without this live order (to decide again whether it may be sent)."""
        key = (order.market_id, order.side)
        self.in_flight[key] = self.in_flight.get(key, ZERO) - (order.amount - order.filled)
        if self.in_flight[key] <= 0:
            del self.in_flight[key]  # no entry in flight there any more (open_positions counts the keys)
            if order.side == "buy":
                self._opening_not_held.discard(order.market_id)
        if order.status == OrderStatus.UNKNOWN.value or not order.venue_order_id:
            self.unconfirmed[key] = max(self.unconfirmed.get(key, ZERO) - (order.amount - order.filled), ZERO)
        if order.created_at >= timezone.now() - RATE_WINDOW:
            self.rate_account -= 1
            if order.strategy_id:
                self.rate_strategy[order.strategy_id] = self.rate_strategy.get(order.strategy_id, 1) - 1

    def order_added(self, order: Order) -> None:
        key = (order.market_id, order.side)
        self.in_flight[key] = self.in_flight.get(key, ZERO) + order.amount - order.filled
        if order.side == "buy" and order.market_id not in self._held_tradable:
            self._opening_not_held.add(order.market_id)
        self.rate_account += 1
        if order.strategy_id:
            self.rate_strategy[order.strategy_id] = self.rate_strategy.get(order.strategy_id, 0) + 1


@dataclass(frozen=True)
class LockedAccount:
    account: ExchangeAccount
    kill_state: KillState
    peak_snapshot: Decimal | None
    day_start_snapshot: Decimal | None


def account_lock(*, account_id: int) -> LockedAccount:
    """Lock the account row; read the kill switches and the equity marks in the same query."""
    snapshots = PortfolioSnapshot.objects.filter(account=OuterRef("pk"))
    start_of_day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    strictest = Case(When(state=KillState.HALTED, then=2), When(state=KillState.REDUCE_ONLY, then=1), default=0).desc()
    account = (
        ExchangeAccount.objects.select_for_update(of=("self",))
        .annotate(
            kill_account=Subquery(KillSwitch.objects.filter(account=OuterRef("pk")).values("state")[:1]),
            kill_global=Subquery(KillSwitch.objects.filter(account__isnull=True).order_by(strictest).values("state")[:1]),
            peak_snapshot=Subquery(snapshots.order_by("-equity").values("equity")[:1]),
            day_start_snapshot=Subquery(snapshots.filter(taken_at__gte=start_of_day).order_by("taken_at").values("equity")[:1]),
        )
        .get(pk=account_id)
    )
    kill = kill_state_combine(*filter(None, (account.kill_account, account.kill_global)))
    return LockedAccount(account, kill, account.peak_snapshot, account.day_start_snapshot)


def account_book_load(*, locked: LockedAccount, signals: list) -> AccountBook:
    """Under the account's row lock (account_lock), for the signals about to be placed."""
    account_id = locked.account.pk
    strategies = {signal.strategy_id: signal.strategy for signal in signals if signal.strategy_id}
    rate_account, rate_strategy, in_flight, unconfirmed = _orders_read(account_id)
    pairs = {(signal.market_id, signal.strategy.timeframe if signal.strategy else "1m") for signal in signals}
    return AccountBook(
        account=locked.account,
        kill_state=locked.kill_state,
        peak_snapshot=locked.peak_snapshot,
        day_start_snapshot=locked.day_start_snapshot,
        cash=dict(
            Balance.objects.filter(account_id=account_id).annotate(total=F("free") + F("used")).values_list("asset", "total")
        ),
        held=_held_read(account_id),
        in_flight=in_flight,
        unconfirmed=unconfirmed,
        rate_account=rate_account,
        rate_strategy=rate_strategy,
        venue_down=venue_down_reason(account_id=account_id),
        last_price=last_prices(market_ids={signal.market_id for signal in signals}),
        **_candle_marks(pairs),
        signal_rate=_signal_rates(signals),
        paper=_paper_terms(locked.account),
        limits=limits_for_many(account_id=account_id, strategies=list(strategies.values())),
        reconciling=gate_reason(account_id=account_id, mode=locked.account.mode),
    )


def _held_read(account_id: int) -> dict[int, Held]:
    rows = Position.objects.filter(account_id=account_id).values_list(
        "market_id", "amount", "last_price", "average_entry", "market__amount_precision", "market__min_notional", "origin"
    )
    return {
        market: Held(
            amount=amount,
            marked_value=amount * (marked or entry),
            step=step,
            min_notional=min_notional,
            external=origin == Position.Origin.EXTERNAL,
        )
        for market, amount, marked, entry, step, min_notional, origin in rows
    }


def _orders_read(account_id: int) -> tuple[int, dict[int, int], dict[tuple[int, str], Decimal], dict[tuple[int, str], Decimal]]:
    """Order rates of the last minute and live amounts per (market, side), in one query (the
    (account, created_at) and status indexes serve it). A FILLED order whose fills are not all
    applied yet (its trades fetch failed; reconciliation applies them) counts as in flight: its
    position is coming, so an entry must not double it and a close must wait for it. Of the
    live amounts, the unconfirmed ones: UNKNOWN orders, and booked-looking ones without the
    exchange's id."""
    since = timezone.now() - RATE_WINDOW
    live = Q(status__in=LIVE_STATUSES) | Q(status=OrderStatus.FILLED.value, filled__lt=F("amount"))
    unconfirmed = Q(status=OrderStatus.UNKNOWN.value) | Q(venue_order_id="", status__in=ACKNOWLEDGED)
    recent = Q(created_at__gte=since) & ~Q(type=Order.Type.ADJUST)  # adjustments are never sent
    rows = (
        Order.objects.filter(Q(account_id=account_id) & (live | recent))
        .order_by()
        .values("market_id", "side", "strategy_id")
        .annotate(
            open_amount=Sum(F("amount") - F("filled"), filter=live),
            live=Count("id", filter=live),
            unconfirmed_amount=Sum(F("amount") - F("filled"), filter=unconfirmed),
            recent=Count("id", filter=recent),
        )
    )
    rate_account, rate_strategy, in_flight, unconfirmed_amounts = 0, {}, {}, {}
    for row in rows:
        rate_account += row["recent"]
        if row["strategy_id"]:
            rate_strategy[row["strategy_id"]] = rate_strategy.get(row["strategy_id"], 0) + row["recent"]
        if row["live"]:
            key = (row["market_id"], row["side"])
            in_flight[key] = in_flight.get(key, ZERO) + (row["open_amount"] or ZERO)
            if row["unconfirmed_amount"]:
                unconfirmed_amounts[key] = unconfirmed_amounts.get(key, ZERO) + row["unconfirmed_amount"]
    return rate_account, rate_strategy, in_flight, unconfirmed_amounts


def _signal_rates(signals: list) -> dict[int, int]:
    """For each strategy signal, how many signals its strategy sent in the same market in the
    minute before it (a strategy sends at most one or two per market and candle; protective exits
    are the desk's, not the strategy's). Ids follow creation, so the signals before one are those
    with a smaller id, counted back to a minute before it was created."""
    mine = [signal for signal in signals if signal.strategy_id and signal.source == Signal.Source.STRATEGY]
    if len(mine) == 1:  # the usual case: a count, not rows
        signal = mine[0]
        return {
            signal.pk: _strategy_signals(signal.strategy_id, signal.market_id)
            .filter(pk__lt=signal.pk, created_at__gt=signal.created_at - RATE_WINDOW)
            .count()
        }
    if not mine:
        return {}
    rows = (
        Signal.objects.filter(
            source=Signal.Source.STRATEGY,
            strategy_id__in={s.strategy_id for s in mine},
            market_id__in={s.market_id for s in mine},
            created_at__gt=min(s.created_at for s in mine) - RATE_WINDOW,
            pk__lte=max(s.pk for s in mine),
        )
        .order_by("pk")
        .values_list("strategy_id", "market_id", "pk", "created_at")
    )
    ids: dict[tuple[int, int], list[int]] = {}
    times: dict[tuple[int, int], list] = {}
    for strategy_id, market_id, pk, created_at in rows:
        ids.setdefault((strategy_id, market_id), []).append(pk)
        previous = times.setdefault((strategy_id, market_id), [])
        previous.append(max(created_at, previous[-1]) if previous else created_at)  # kept sorted for bisect
    rates = {}
    for signal in mine:
        key = (signal.strategy_id, signal.market_id)
        before = bisect_left(ids[key], signal.pk)
        too_old = bisect_right(times[key], signal.created_at - RATE_WINDOW, 0, before)
        rates[signal.pk] = before - too_old
    return rates


def _strategy_signals(strategy_id: int, market_id: int):
    return Signal.objects.filter(strategy_id=strategy_id, market_id=market_id, source=Signal.Source.STRATEGY)


def _paper_terms(account: ExchangeAccount) -> tuple[Decimal, Decimal] | None:
    """(fee rate, slippage bps) of the paper broker; its defaults when the row does not exist yet
    (the paper venue creates it with them on the first order)."""
    if account.mode != ExchangeAccount.Mode.PAPER:
        return None
    found = PaperSettings.objects.filter(account=account).values_list("fee_rate", "slippage_bps").first()
    if found:
        return found
    return tuple(PaperSettings._meta.get_field(name).default for name in ("fee_rate", "slippage_bps"))


def _candle_marks(pairs: set[tuple[int, str]]) -> dict:
    """fresh: is the data fresh (newest candle under two periods old); newest_candle: its open
    time, per (market, timeframe), from the collectors' status rows (one query)."""
    markets_by_timeframe: dict[str, set[int]] = {}
    for market_id, timeframe in pairs:
        markets_by_timeframe.setdefault(timeframe, set()).add(market_id)
    query = Q(pk__in=[])  # one condition per timeframe: a batch's hundred markets stay one IN list
    for timeframe, market_ids in markets_by_timeframe.items():
        query |= Q(timeframe=timeframe, market_id__in=market_ids)
    # Only what freshness reads (a collector's row also carries its error history as JSON).
    found = {(c.market_id, c.timeframe): c for c in CollectorStatus.objects.filter(query).only(*FRESHNESS_FIELDS)}
    return {
        "fresh": {pair: bool(found.get(pair) and found[pair].is_fresh()) for pair in pairs},
        "newest_candle": {pair: found[pair].last_candle_time if pair in found else None for pair in pairs},
    }
