"""Live vs backtest: what a strategy did live beside what the engine's backtest of the same period,
on the same stored candles and with the strategy's params, would have done. One code path for the
cockpit's parity panel (since the first live evaluation), the nightly report of a day and the
`divergence` figure the promotion rules read.

The backtest is the engine's (the one the backtest command runs, through apps.strategies.backtests),
sized and filled as live trades: fixed quote allocation with the fee inside, filled at the signal
candle's close, nothing closed at the end. It starts at the strategy's first live evaluation (at
most RESEARCH_LIVE_VS_BACKTEST_LOOKBACK_DAYS before the window), so it holds what live would hold
when the window opens; only the trades whose candle falls in the window are compared.

A trade is matched when live and the backtest traded the same market, on the same candle, on the
same side; the backtest's trades live did not make are missing, live trades the backtest would not
have made are extra. Each difference carries a reason drawn from what the desk recorded (`explain`):

- risk refusal: the live signal was refused by a risk rule (the rule and its words, RiskEvent);
- stale entry: the entry was refused as late (rule `stale_signal`: a newer candle had closed);
- outage: refused because the exchange was down, the desk was reconciling after an outage or the
  market data was stale (rules venue_down / reconciling / fresh_data), an order whose outcome was
  unknown or lost, a candle the collector stored late (a gap filled later), or no live evaluation
  of the candle at all (no worker evaluated it);
- paused: the strategy was paused or stopped then (its status events);
- order not filled: accepted, but the order ended rejected or canceled on the exchange;
- knock-on: a consequence of an earlier difference (live held a position the backtest did not, or
  the reverse: nothing to close, already in position);
- operator / protective: a person's close, or a stop, target or trailing exit the desk emulates
  on prices;
- unexplained: none of the above applies.

P&L on both sides is one formula, marked to market over the window: the quote that went in and out
in the window, fees included, plus what is held at the window's last close, minus what was held
when the window opened at the close before it (`trades_pnl`). Slippage is per matched trade: what
the live fill cost beyond the backtest's price, in quote and in % of the backtest's price (positive:
worse for the trader), with its p50 and p95.

**Divergence** (`divergence`): |live P&L - backtest P&L| over the window divided by the strategy's
allocation in quote (a fixed quote allocation as set; a % of equity at the account's newest equity
snapshot before the window). 0.02 means live made or lost 2 % of the allocation more than the
backtest. None when there is nothing to compare (never evaluated live in the window, the backtest
cannot run, no allocation)."""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from apps.common.models import Event
from apps.engine.backtest import CLOSE
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.models import Candle
from apps.risk.models import RiskEvent
from apps.strategies.backtests.plan import BacktestRequest, backtest_plan
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.services import backtest_result, market_data_load
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.trading.models import Fill, Order, PortfolioSnapshot, Signal

ZERO = Decimal(0)
HUNDRED = Decimal(100)
FEE_UNIT = Decimal("1E-12")  # as a stored fill's fee (MONEY's decimal places)

# Reason kinds, as stored and shown.
RISK_REFUSAL = "risk_refusal"
STALE_ENTRY = "stale_entry"
OUTAGE = "outage"
PAUSED = "paused"
ORDER_NOT_FILLED = "order_not_filled"
KNOCK_ON = "knock_on"
OPERATOR = "operator"
PROTECTIVE = "protective"
UNEXPLAINED = "unexplained"
REASON_LABELS = {
    RISK_REFUSAL: "risk refusal",
    STALE_ENTRY: "stale entry",
    OUTAGE: "outage",
    PAUSED: "strategy paused",
    ORDER_NOT_FILLED: "order not filled",
    KNOCK_ON: "knock-on of an earlier difference",
    OPERATOR: "a person's order",
    PROTECTIVE: "protective exit",
    UNEXPLAINED: "unexplained",
}
OUTAGE_RULES = frozenset({"venue_down", "reconciling", "fresh_data"})
CONSEQUENCE_RULES = frozenset({"nothing_to_close", "in_position"})
OUTAGE_ORDER_STATUSES = frozenset({"unknown", "lost", "expired"})


@dataclass(frozen=True)
class Trade:
    market: str
    time: datetime  # the signal's candle (its open time)
    side: str
    amount: Decimal
    price: Decimal
    fee_quote: Decimal
    base_fee: Decimal = ZERO  # a buy's fee taken in the base currency (held less)
    source: str = ""  # live: the signal's source (strategy, protective, operator); "" in the backtest

    @property
    def key(self) -> tuple:
        return (self.market, self.time, self.side)


@dataclass(frozen=True)
class Reason:
    kind: str  # one of REASON_LABELS
    detail: str  # in a trader's words
    rule: str = ""  # the risk rule, when a rule decided it

    @property
    def label(self) -> str:
        return REASON_LABELS[self.kind]


@dataclass(frozen=True)
class Slippage:
    quote: Decimal  # what the live fill cost beyond the backtest's price (positive: worse)
    pct: Decimal  # of the backtest's price


@dataclass(frozen=True)
class Comparison:
    start: datetime | None
    end: datetime
    matched: list[tuple[Trade, Trade]]  # (live, backtest)
    missing: list[Trade]  # the backtest traded, live did not
    extra: list[Trade]  # live traded, the backtest would not have
    live_pnl: Decimal
    backtest_pnl: Decimal
    problem: str = ""  # why there is nothing to compare, in a trader's words
    reasons: dict[tuple, Reason] = field(default_factory=dict)  # ("missing" | "extra", trade key) -> why
    allocation: Decimal | None = None  # the strategy's allocation in quote (divergence's unit)

    @property
    def difference(self) -> Decimal:
        return self.live_pnl - self.backtest_pnl

    @property
    def comparable(self) -> bool:
        return not self.problem

    @property
    def slippages(self) -> list[Slippage]:
        return [slippage_of(live, backtest) for live, backtest in self.matched]

    def slippage_summary(self) -> dict[str, Decimal | None]:
        quotes = sorted(s.quote for s in self.slippages)
        pcts = sorted(s.pct for s in self.slippages)
        return {
            "p50_quote": percentile(quotes, 50),
            "p95_quote": percentile(quotes, 95),
            "p50_pct": percentile(pcts, 50),
            "p95_pct": percentile(pcts, 95),
            "total_quote": sum(quotes, ZERO),
        }

    @property
    def divergence(self) -> Decimal | None:
        if self.problem or not self.allocation:
            return None
        return abs(self.difference) / self.allocation

    def reason(self, where: str, trade: Trade) -> Reason:
        return self.reasons.get((where, trade.key), Reason(UNEXPLAINED, "nothing the desk recorded explains it"))

    @property
    def missing_explained(self) -> list[tuple[Trade, Reason]]:
        return [(trade, self.reason("missing", trade)) for trade in self.missing]

    @property
    def extra_explained(self) -> list[tuple[Trade, Reason]]:
        return [(trade, self.reason("extra", trade)) for trade in self.extra]


# --- The seam: one figure for the promotion rules ----------------------------------------------


def divergence(strategy: Strategy, *, since: datetime, until: datetime) -> Decimal | None:
    """|live P&L - backtest P&L| over [since, until) / the allocation in quote (see the module's
    docstring); None when there is nothing to compare."""
    return strategy_comparison(strategy=strategy, since=since, until=until).divergence


# --- Comparing ---------------------------------------------------------------------------------


def comparison_since_live(*, strategy: Strategy, now: datetime | None = None) -> Comparison:
    """From the strategy's first live evaluation (or signal) to now: the parity panel."""
    now = now or datetime.now(UTC)
    start = live_since(strategy)
    if start is None:
        return _nothing(None, now, "Not evaluated live yet: nothing to compare.")
    return strategy_comparison(strategy=strategy, since=start, until=now, first_live=start)


def strategy_comparison(
    *, strategy: Strategy, since: datetime, until: datetime, first_live: datetime | None = None
) -> Comparison:
    """The trades whose candle is in [since, until), live beside the backtest, with the reasons
    (`first_live`: the strategy's first live candle, when the caller has read it)."""
    first_live = first_live or live_since(strategy)
    if first_live is None or first_live >= until:
        return _nothing(since, until, "Not evaluated live in this period: nothing to compare.")
    since = max(since, first_live)
    lookback = timedelta(days=getattr(settings, "RESEARCH_LIVE_VS_BACKTEST_LOOKBACK_DAYS", 30))
    anchor = max(first_live, since - lookback)
    live = live_trades(strategy=strategy, start=anchor, end=until)
    try:
        backtested, marks = backtest_trades(strategy=strategy, start=anchor, end=until)
    except BacktestError as error:
        marks = {trade.market: _close_before(trade.market, strategy, until) for trade in live}
        inside = [trade for trade in live if trade.time >= since]
        return _nothing(since, until, f"The backtest of this period cannot run: {error}.", live=inside, marks=marks)
    start_marks = {symbol: _close_before(symbol, strategy, since) for symbol in marks} if anchor < since else {}
    found = compare(live, backtested, marks, start=since, end=until, start_marks=start_marks)
    reasons = explain(strategy=strategy, comparison=found, live=live, backtested=backtested)
    return replace(found, reasons=reasons, allocation=allocation_quote(strategy, at=since))


def compare(
    live: list[Trade],
    backtested: list[Trade],
    marks: dict[str, Decimal],
    *,
    start,
    end,
    start_marks: dict[str, Decimal] | None = None,
) -> Comparison:
    """Match the trades of [start, end) (trades before `start` only carry what is held into the
    window: they are valued at `start_marks`, the closes before it)."""
    inside = [t for t in live if start is None or t.time >= start]
    by_key = {t.key: t for t in backtested if start is None or t.time >= start}
    matched, extra = [], []
    for trade in inside:
        twin = by_key.pop(trade.key, None)
        (matched.append((trade, twin)) if twin else extra.append(trade))
    missing = sorted(by_key.values(), key=lambda trade: trade.time)
    return Comparison(
        start,
        end,
        matched,
        missing,
        extra,
        window_pnl(live, start, marks, start_marks),
        window_pnl(backtested, start, marks, start_marks),
    )


def window_pnl(trades: list[Trade], start, marks: dict[str, Decimal], start_marks: dict[str, Decimal] | None) -> Decimal:
    """Marked to market over the window: everything up to its end at the last close, less what was
    held when it opened at the close before it."""
    before = [t for t in trades if start is not None and t.time < start]
    return trades_pnl(trades, marks) - (trades_pnl(before, start_marks or {}) if before else ZERO)


def trades_pnl(trades: list[Trade], marks: dict[str, Decimal]) -> Decimal:
    """Quote out and in, fees paid, plus what is still held valued at the mark."""
    cash, held = ZERO, defaultdict(lambda: ZERO)
    for trade in trades:
        sign = -1 if trade.side == "buy" else 1
        cash += sign * trade.amount * trade.price - trade.fee_quote
        held[trade.market] -= sign * trade.amount + trade.base_fee
    return cash + sum((amount * marks.get(market, ZERO) for market, amount in held.items()), ZERO)


def slippage_of(live: Trade, backtest: Trade) -> Slippage:
    worse = (live.price - backtest.price) * (1 if live.side == "buy" else -1)
    return Slippage(worse * live.amount, worse * HUNDRED / backtest.price if backtest.price else ZERO)


def percentile(values: list[Decimal], pct: int) -> Decimal | None:
    """Linear interpolation between the closest ranks (numpy's default), in Decimal; sorted input."""
    if not values:
        return None
    rank = Decimal(pct) / HUNDRED * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def allocation_quote(strategy: Strategy, *, at: datetime) -> Decimal | None:
    if strategy.allocation_type != Strategy.Allocation.EQUITY_PCT:
        return strategy.allocation_value or None
    snapshot = (
        PortfolioSnapshot.objects.filter(account_id=strategy.account_id, taken_at__lte=at).order_by("-taken_at").first()
        or PortfolioSnapshot.objects.filter(account_id=strategy.account_id).order_by("taken_at").first()
    )
    if snapshot is None:
        return None
    return snapshot.equity * strategy.allocation_value / HUNDRED or None


# --- The two sides ----------------------------------------------------------------------------


def live_since(strategy: Strategy) -> datetime | None:
    evaluated = StrategyEvaluation.objects.filter(strategy=strategy).order_by("candle_time").values_list("candle_time", flat=True)
    signalled = Signal.objects.filter(strategy=strategy).order_by("candle_time").values_list("candle_time", flat=True)
    found = [moment for moment in (evaluated.first(), signalled.first()) if moment is not None]
    return min(found) if found else None


def _close_before(symbol: str, strategy: Strategy, moment: datetime) -> Decimal:
    candle = (
        Candle.objects.filter(
            market__symbol=symbol, market__in=strategy.markets.all(), timeframe=strategy.timeframe, open_time__lt=moment
        )
        .order_by("-open_time")
        .first()
    )
    return candle.close if candle else ZERO


def live_trades(*, strategy: Strategy, start: datetime, end: datetime | None = None) -> list[Trade]:
    """The strategy's orders with fills whose candle is in [start, end), one trade per order
    (partial fills summed)."""
    fills = (
        Fill.objects.filter(order__strategy=strategy, order__created_at__gte=start - timedelta(days=1))
        .select_related("order__market", "order__signal")
        .order_by("id")
    )
    orders: dict[int, list[Fill]] = defaultdict(list)
    for fill in fills:
        orders[fill.order_id].append(fill)
    trades = []
    for parts in orders.values():
        order = parts[0].order
        candle = order.signal.candle_time if order.signal_id else parts[0].traded_at
        if candle < start or (end is not None and candle >= end):
            continue
        amount = sum((f.amount for f in parts), ZERO)
        base_fee = sum((f.fee for f in parts if f.fee_currency == order.market.base), ZERO)
        quote_fee = sum((f.fee if f.fee_currency != order.market.base else f.fee * f.price for f in parts), ZERO)
        price = sum((f.amount * f.price for f in parts), ZERO) / amount
        source = order.signal.source if order.signal_id else ("adjust" if order.type == Order.Type.ADJUST else "")
        trades.append(Trade(order.market.symbol, candle, order.side, amount, price, quote_fee, base_fee, source))
    return sorted(trades, key=lambda trade: trade.time)


def backtest_trades(*, strategy: Strategy, start: datetime, end: datetime) -> tuple[list[Trade], dict[str, Decimal]]:
    """The engine's fills for the period, as live would have filled them, and each market's newest close."""
    market = strategy.markets.order_by("symbol").first()
    fee = market.taker_fee * 100 if market is not None and market.taker_fee is not None else Decimal("0.1")
    plan = backtest_plan(
        BacktestRequest(strategy=str(strategy.pk), start=start.isoformat(), end=end.isoformat(), fee_pct=str(fee))
    )
    plan = replace(plan, config=replace(plan.config, fill_at=CLOSE, close_at_end=False, compute_metrics=False, allow_short=False))
    data = market_data_load(plan)
    result = backtest_result(plan, data)
    units = {m.symbol: (m.amount_precision, m.price_precision) for m in plan.markets}
    trades = [
        Trade(
            fill.market,
            datetime.fromtimestamp(fill.time / 1000, tz=UTC),
            fill.side,
            Decimal(repr(fill.quantity)).quantize(units[fill.market][0]),
            Decimal(repr(fill.price)).quantize(units[fill.market][1]),
            Decimal(repr(fill.fee)).quantize(FEE_UNIT),
        )
        for fill in result.fills
    ]
    marks = {symbol: Decimal(repr(float(market.candles.close[-1]))) for symbol, market in data.items()}
    return trades, marks


def _nothing(start, end, problem: str, live: list[Trade] = (), marks: dict | None = None) -> Comparison:
    return Comparison(start, end, [], [], list(live), trades_pnl(list(live), marks or {}), ZERO, problem)


# --- Why a trade differs ------------------------------------------------------------------------


def explain(*, strategy: Strategy, comparison: Comparison, live: list[Trade], backtested: list[Trade]) -> dict[tuple, Reason]:
    """A reason for each missing and extra trade, from the desk's records (a few queries a window)."""
    if not comparison.missing and not comparison.extra:
        return {}
    records = _Records(strategy, [t.time for t in comparison.missing], since=comparison.start, until=comparison.end)
    reasons = {}
    for trade in comparison.missing:
        differs = _held_before(live, trade) != _held_before(backtested, trade)
        reasons[("missing", trade.key)] = _missing_reason(trade, records, differs)
    for trade in comparison.extra:
        differs = _held_before(live, trade) != _held_before(backtested, trade)
        reasons[("extra", trade.key)] = _extra_reason(trade, differs)
    return reasons


def _held_before(trades: list[Trade], trade: Trade) -> bool:
    """Whether that side held the market's position just before this trade's candle (spot, one
    position per market: its last trade before was a buy)."""
    last = [t.side for t in trades if t.market == trade.market and t.time < trade.time]
    return bool(last) and last[-1] == "buy"


def _missing_reason(trade: Trade, records: "_Records", differs: bool) -> Reason:
    signal = records.signal(trade)
    if signal is not None:
        return _signal_reason(signal, records, differs)
    if differs:
        return Reason(KNOCK_ON, _knock_on_words(trade))
    evaluation = records.evaluation(trade)
    if evaluation is not None:
        if evaluation.outcome == StrategyEvaluation.Outcome.ERROR:
            return Reason(OUTAGE, f"the live evaluation of this candle failed: {evaluation.detail[:200]}")
        return Reason(
            UNEXPLAINED, f"the live evaluation of this candle wanted no {trade.side} ({evaluation.get_outcome_display().lower()})"
        )
    paused = records.paused_at(trade.time)
    if paused:
        return Reason(PAUSED, paused)
    late = records.stored_late(trade)
    if late:
        return Reason(OUTAGE, late)
    return Reason(
        OUTAGE, "no live evaluation of this candle was recorded: no worker evaluated it (the desk or its worker was down)"
    )


def _signal_reason(signal: Signal, records: "_Records", differs: bool) -> Reason:
    if signal.status == Signal.Status.PENDING:
        return Reason(UNEXPLAINED, "the live signal is still pending (not placed)")
    if signal.status == Signal.Status.ACCEPTED:
        order = getattr(signal, "order", None)
        if order is None:
            return Reason(UNEXPLAINED, "the live signal was accepted but no order was made")
        words = f"order {order.client_order_id} ended {order.status}" + (f": {order.reason[:200]}" if order.reason else "")
        return Reason(OUTAGE if order.status in OUTAGE_ORDER_STATUSES else ORDER_NOT_FILLED, words)
    event = records.refusal(signal)
    rules = list(event.rules) if event else []
    words = (event.reason if event else signal.rejection_reason) or "refused"
    rule = ", ".join(rules)
    if "stale_signal" in rules:
        return Reason(STALE_ENTRY, words, rule)
    if OUTAGE_RULES & set(rules):
        return Reason(OUTAGE, words, rule)
    if differs and set(rules) <= CONSEQUENCE_RULES:
        return Reason(KNOCK_ON, f"{words}: the positions already differed (an earlier difference)", rule)
    return Reason(RISK_REFUSAL, words, rule)


def _extra_reason(trade: Trade, differs: bool) -> Reason:
    if trade.source == "operator":
        return Reason(OPERATOR, "a person's close (position close or account flatten)")
    if trade.source == "protective":
        return Reason(PROTECTIVE, "a stop, target or trailing exit the desk emulates on prices between candles")
    if trade.source == "adjust":
        return Reason(OUTAGE, "recorded by holdings reconciliation: the exchange's balance changed outside the desk")
    if differs:
        return Reason(KNOCK_ON, _knock_on_words(trade))
    return Reason(UNEXPLAINED, "the backtest of these candles makes no such trade")


def _knock_on_words(trade: Trade) -> str:
    return f"live and the backtest held different {trade.market} positions before this candle (an earlier difference)"


class _Records:
    """What the desk recorded around the missing trades, read in a few queries."""

    def __init__(self, strategy: Strategy, times: list[datetime], *, since, until):
        self.strategy = strategy
        signals = (
            Signal.objects.filter(strategy=strategy, candle_time__in=times, source=Signal.Source.STRATEGY)
            .select_related("market", "order")
            .order_by("id")
        )
        self.signals = {(s.market.symbol, s.candle_time, s.side): s for s in signals}  # the newest wins
        refusals = RiskEvent.objects.filter(
            signal_id__in=[s.pk for s in self.signals.values()], decision=RiskEvent.Decision.REJECTED
        ).order_by("id")
        self.refusals = {event.signal_id: event for event in refusals}
        self.evaluations = {
            (e.market.symbol, e.candle_time): e
            for e in StrategyEvaluation.objects.filter(strategy=strategy, candle_time__in=times).select_related("market")
        }
        self.since, self.until = since, until
        self._status = None
        self._stored: dict[str, dict[int, datetime]] = {}
        self.times = times

    def signal(self, trade: Trade) -> Signal | None:
        return self.signals.get(trade.key)

    def refusal(self, signal: Signal) -> RiskEvent | None:
        return self.refusals.get(signal.pk)

    def evaluation(self, trade: Trade) -> StrategyEvaluation | None:
        return self.evaluations.get((trade.market, trade.time))

    def paused_at(self, moment: datetime) -> str:
        """Why the strategy was not running at `moment` ('' when it was), from its status events."""
        if self._status is None:
            self._status = list(
                Event.objects.filter(
                    topic=f"strategies.{self.strategy.account_id}",
                    kind__in=("strategy.started", "strategy.paused", "strategy.stopped"),
                    payload__strategy=self.strategy.pk,
                    created_at__lt=self.until + timedelta(days=1),
                ).order_by("id")
            )
        before = [event for event in self._status if event.created_at <= moment]
        if not before or before[-1].kind == "strategy.started":
            return ""
        event = before[-1]
        verb = "paused" if event.kind == "strategy.paused" else "stopped"
        return f"{verb} at {event.created_at:%Y-%m-%d %H:%M} UTC: {event.payload.get('reason') or 'no reason given'}"

    def stored_late(self, trade: Trade) -> str:
        """The collector stored this candle late (a gap filled afterwards), from its candle events."""
        stored = self._stored_at(trade.market).get(int(trade.time.timestamp()))
        period = timedelta(seconds=TIMEFRAME_SECONDS[self.strategy.timeframe])
        if stored is None or stored <= trade.time + 3 * period:
            return ""
        return (
            f"the collector stored this candle only at {stored:%Y-%m-%d %H:%M} UTC (a gap in the market data, "
            "filled later): a late candle is not traded"
        )

    def _stored_at(self, symbol: str) -> dict[int, datetime]:
        """When each missing trade's candle of this market was stored (by its open time in
        seconds), from its `candle.closed` event or the `candles.backfilled` one covering it: two
        queries a market, whatever the number of trades."""
        if symbol in self._stored:
            return self._stored[symbol]
        market = next((m for m in self.strategy.markets.all() if m.symbol == symbol), None)
        stamps = sorted({int(moment.timestamp()) for moment in self.times})
        found: dict[int, datetime] = {}
        if market is not None and stamps:
            topic = f"candles.{market.slug}.{self.strategy.timeframe}"
            for event in Event.objects.filter(topic=topic, kind="candle.closed", payload__time__in=stamps).order_by("-id"):
                found[event.payload["time"]] = event.created_at  # the first store wins
            backfills = Event.objects.filter(
                topic=topic, kind="candles.backfilled", payload__from__lte=stamps[-1], payload__to__gte=stamps[0]
            ).order_by("-id")
            for event in backfills:
                for stamp in stamps:
                    if event.payload["from"] <= stamp <= event.payload["to"] and (
                        stamp not in found or event.created_at < found[stamp]
                    ):
                        found[stamp] = event.created_at
        self._stored[symbol] = found
        return found
