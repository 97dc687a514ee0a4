"""The parity panel: a strategy's live fills beside what the backtest of the same period, on the
same stored candles, would have done. The backtest is the engine's (the one the backtest
command runs, through apps.strategies.backtests), sized and filled as live trades: fixed quote
allocation with the fee inside, filled at the signal candle's close, nothing closed at the end.

A trade is matched when live and the backtest traded the same market, on the same candle, on the
same side; the backtest's trades live did not make are missing, live trades the backtest would
not have made (a hand close, a late fill) are extra. P&L on both sides is the same formula: the
quote that went in and out, fees included, plus what is still held at the newest close."""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache

from apps.engine.backtest import CLOSE
from apps.markets.models import Candle
from apps.strategies.backtests.plan import BacktestRequest, backtest_plan
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.services import backtest_result, market_data_load
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.trading.models import Fill, Signal

ZERO = Decimal(0)
CACHE_SECONDS = 600
FEE_UNIT = Decimal("1E-12")  # as a stored fill's fee (MONEY's decimal places)


@dataclass(frozen=True)
class Trade:
    market: str
    time: datetime  # the signal's candle (its open time)
    side: str
    amount: Decimal
    price: Decimal
    fee_quote: Decimal
    base_fee: Decimal = ZERO  # a buy's fee taken in the base currency (held less)

    @property
    def key(self) -> tuple:
        return (self.market, self.time, self.side)


@dataclass(frozen=True)
class Parity:
    start: datetime | None
    end: datetime
    matched: list[tuple[Trade, Trade]]  # (live, backtest)
    missing: list[Trade]  # the backtest traded, live did not
    extra: list[Trade]  # live traded, the backtest would not have
    live_pnl: Decimal
    backtest_pnl: Decimal
    problem: str = ""  # why there is nothing to compare, in a trader's words

    @property
    def difference(self) -> Decimal:
        return self.live_pnl - self.backtest_pnl


def strategy_parity_cached(*, strategy: Strategy) -> Parity:
    """The page refreshes on every event: the comparison is computed again only when the
    strategy evaluated a newer candle or got a new fill."""
    newest = StrategyEvaluation.objects.filter(strategy=strategy).order_by("-candle_time").values_list("candle_time", flat=True)
    last_fill = Fill.objects.filter(order__strategy=strategy).order_by("-id").values_list("id", flat=True)
    key = f"parity:{strategy.pk}:{strategy.updated_at.timestamp()}:{newest.first()}:{last_fill.first()}"
    found = cache.get(key)
    if found is None:
        found = strategy_parity(strategy=strategy)
        cache.set(key, found, timeout=CACHE_SECONDS)
    return found


def strategy_parity(*, strategy: Strategy, now: datetime | None = None) -> Parity:
    """From the strategy's first live evaluation (or signal) to now."""
    now = now or datetime.now(UTC)
    start = _live_since(strategy)
    if start is None:
        return _nothing(None, now, "Not evaluated live yet: nothing to compare.")
    live = live_trades(strategy=strategy, start=start)
    try:
        backtested, marks = backtest_trades(strategy=strategy, start=start, end=now)
    except BacktestError as error:
        marks = {trade.market: _newest_close(trade.market, strategy) for trade in live}
        return _nothing(start, now, f"The backtest of this period cannot run: {error}.", live=live, marks=marks)
    return compare(live, backtested, marks, start=start, end=now)


def _live_since(strategy: Strategy) -> datetime | None:
    evaluated = StrategyEvaluation.objects.filter(strategy=strategy).order_by("candle_time").values_list("candle_time", flat=True)
    signalled = Signal.objects.filter(strategy=strategy).order_by("candle_time").values_list("candle_time", flat=True)
    found = [moment for moment in (evaluated.first(), signalled.first()) if moment is not None]
    return min(found) if found else None


def _newest_close(symbol: str, strategy: Strategy) -> Decimal:
    candle = Candle.objects.filter(market__symbol=symbol, market__in=strategy.markets.all()).order_by("-open_time").first()
    return candle.close if candle else ZERO


def compare(live: list[Trade], backtested: list[Trade], marks: dict[str, Decimal], *, start, end) -> Parity:
    by_key = {trade.key: trade for trade in backtested}
    matched, extra = [], []
    for trade in live:
        twin = by_key.pop(trade.key, None)
        (matched.append((trade, twin)) if twin else extra.append(trade))
    missing = sorted(by_key.values(), key=lambda trade: trade.time)
    return Parity(start, end, matched, missing, extra, trades_pnl(live, marks), trades_pnl(backtested, marks))


def trades_pnl(trades: list[Trade], marks: dict[str, Decimal]) -> Decimal:
    """Quote out and in, fees paid, plus what is still held valued at the newest close."""
    cash, held = ZERO, defaultdict(lambda: ZERO)
    for trade in trades:
        sign = -1 if trade.side == "buy" else 1
        cash += sign * trade.amount * trade.price - trade.fee_quote
        held[trade.market] -= sign * trade.amount + trade.base_fee
    return cash + sum((amount * marks.get(market, ZERO) for market, amount in held.items()), ZERO)


def live_trades(*, strategy: Strategy, start: datetime) -> list[Trade]:
    """The strategy's orders with fills since `start`, one trade per order (partial fills summed)."""
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
        if candle < start:
            continue
        amount = sum((f.amount for f in parts), ZERO)
        base_fee = sum((f.fee for f in parts if f.fee_currency == order.market.base), ZERO)
        quote_fee = sum((f.fee if f.fee_currency != order.market.base else f.fee * f.price for f in parts), ZERO)
        price = sum((f.amount * f.price for f in parts), ZERO) / amount
        trades.append(Trade(order.market.symbol, candle, order.side, amount, price, quote_fee, base_fee))
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


def _nothing(start, end, problem: str, live: list[Trade] = (), marks: dict | None = None) -> Parity:
    return Parity(start, end, [], [], list(live), trades_pnl(list(live), marks or {}), ZERO, problem)
