"""The backtest engine: many markets, one shared cash balance, long and short.

Design for speed (no JIT): everything that can be vectorised is computed up front (signal
bars, entry candidates); the simulation visits only the moments where something can happen,
in time order across markets (a heap of events). When a position opens, its exit is found at
once with numpy searches over the candles ahead (first exit signal, first touch of the stop
or the target), because an exit never depends on other markets. The equity curve is built
at the end, vectorised, from the cash and positions after each fill.

Timing: a signal at candle i (known at its close) fills at candle i+1's open by default, or at
candle i's close (fill_at="close"). Stops and targets are checked inside every candle after the
fill. Equity is valued at each candle's close.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from apps.engine import risk
from apps.engine.backtest_results import (  # noqa: F401 - re-exported: callers import them from here
    LONG,
    SHORT,
    SIDE_NAMES,
    BacktestResult,
    Fill,
    OpenPosition,
    SkippedOrder,
    Trade,
    _equity_curve,
    _fill_table,
    _open_positions,
    _trade_table,
)
from apps.engine.fills import (
    PHASE_CLOSE,
    PHASE_OPEN,
    STOP_LOSS,
    TRAILING_STOP,
    UNKNOWN_EXIT,
    ExitRules,
    Exits,
    FeeSchedule,
    MarketRules,
    PriceSeries,
    candidate_exits,
    floor_to_step,
    market_fill_prices,
)
from apps.engine.sizing import Sizing, order_quantity
from apps.engine.strategies.base import Candles, SignalArrays, Strategy
from apps.engine.timeframes import TIMEFRAME_MS

NEXT_OPEN = "next_open"
CLOSE = "close"

# Events inside one timestamp sort by phase (fills at the open, then inside the candle, then
# at the close); exits sort before entries so that freed cash can be used.
EXIT_EVENT, ENTRY_EVENT = 0, 1

INSUFFICIENT_FUNDS = "insufficient_funds"
BELOW_MIN_AMOUNT = "below_min_amount"
BELOW_MIN_NOTIONAL = "below_min_notional"
NO_SIZE = "no_size"  # e.g. risk sizing without a stop


class BacktestInputError(ValueError):
    """Input a trader must fix (message says what and where)."""


@dataclass(frozen=True)
class BacktestConfig:
    initial_balance: float = 10_000.0
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    fill_at: str = NEXT_OPEN
    sizing: Sizing = field(default_factory=Sizing)
    precision: Mapping[str, MarketRules] = field(default_factory=dict)
    protections: risk.Protections = field(default_factory=risk.Protections)
    stop_loss_pct: float | None = None  # fraction of the fill price, 0.02 = 2 %
    take_profit_pct: float | None = None
    trailing_stop_pct: float | None = None
    allow_short: bool = True
    exit_on_opposite_signal: bool = True
    close_at_end: bool = True  # close what is still open at the last close (end_of_data)
    risk_free_rate: float = 0.0  # annual, for Sharpe/Sortino
    compute_metrics: bool = True
    # Goal-aware sizing: (entry time ms, equity) -> factor on the entry's size (goal_backtest.GoalSizing).
    entry_factor: Callable[[int, float], float] | None = None

    def __post_init__(self):
        if not self.initial_balance > 0:
            raise BacktestInputError(f"initial balance must be positive, got {self.initial_balance}")
        if self.fill_at not in (NEXT_OPEN, CLOSE):
            raise BacktestInputError(f"fill_at must be '{NEXT_OPEN}' or '{CLOSE}', got {self.fill_at!r}")
        for name in ("stop_loss_pct", "take_profit_pct", "trailing_stop_pct"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 1:
                raise BacktestInputError(f"{name} must be a fraction in (0, 1), got {value}")


# ---------------------------------------------------------------------------------------
# Preparation: arrays and the bars where something can happen, per market.


@dataclass
class _Market:
    name: str
    index: int
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    bar_ms: int
    rules: MarketRules
    entries: dict[int, list[int]]  # side -> sorted fill bars
    exits: dict[int, list[int]]  # side -> sorted fill bars that close that side
    stop_loss: np.ndarray | None
    take_profit: np.ndarray | None
    size: np.ndarray | None
    detail: Candles | None
    prices: PriceSeries = None
    cands: _Candidates = None


def _checked_candles(name: str, candles: Candles) -> None:
    n = len(candles.time)
    for column in ("open", "high", "low", "close"):
        if len(getattr(candles, column)) != n:
            raise BacktestInputError(f"{name}: candle column {column} has {len(getattr(candles, column))} values, time has {n}")
    if n and np.any(np.diff(candles.time) <= 0):
        raise BacktestInputError(f"{name}: candle times must be strictly increasing (oldest first, no duplicates)")


def _checked_signals(name: str, signals: SignalArrays, n: int) -> None:
    for column in ("entry_long", "exit_long", "entry_short", "exit_short", "stop_loss", "take_profit", "size"):
        values = getattr(signals, column)
        if values is not None and len(values) != n:
            raise BacktestInputError(f"{name}: signal {column} has {len(values)} values for {n} candles")


def _fill_bars(signal: np.ndarray, n: int, fill_at: str) -> list[int]:
    bars = np.flatnonzero(signal)
    if fill_at == NEXT_OPEN:
        bars = bars[bars + 1 < n] + 1
    return bars.tolist()


def _bar_ms(candles: Candles) -> int:
    if candles.timeframe in TIMEFRAME_MS:
        return TIMEFRAME_MS[candles.timeframe]
    if len(candles.time) > 1:
        return int(np.median(np.diff(candles.time)))
    return 60_000


def _market_prepare(
    name: str, index: int, candles: Candles, signals: SignalArrays, config: BacktestConfig, detail: Candles | None
) -> _Market:
    n = len(candles.time)
    _checked_candles(name, candles)
    _checked_signals(name, signals, n)
    entry_long = np.asarray(signals.entry_long, dtype=bool)
    exit_long = np.asarray(signals.exit_long, dtype=bool)
    entry_short = np.asarray(signals.entry_short, dtype=bool) if config.allow_short else np.zeros(n, bool)
    exit_short = np.asarray(signals.exit_short, dtype=bool)
    # An entry together with its own exit or the opposite entry is a contradiction: no entry.
    clean_long = entry_long & ~exit_long & ~entry_short
    clean_short = entry_short & ~exit_short & ~entry_long
    if config.exit_on_opposite_signal:
        exit_long, exit_short = exit_long | entry_short, exit_short | entry_long
    fill_at = config.fill_at
    market = _Market(
        name=name,
        index=index,
        time=np.asarray(candles.time, dtype=np.int64),
        open=np.asarray(candles.open, dtype=np.float64),
        high=np.asarray(candles.high, dtype=np.float64),
        low=np.asarray(candles.low, dtype=np.float64),
        close=np.asarray(candles.close, dtype=np.float64),
        bar_ms=_bar_ms(candles),
        rules=config.precision.get(name, MarketRules()),
        entries={LONG: _fill_bars(clean_long, n, fill_at), SHORT: _fill_bars(clean_short, n, fill_at)},
        exits={LONG: _fill_bars(exit_long, n, fill_at), SHORT: _fill_bars(exit_short, n, fill_at)},
        stop_loss=signals.stop_loss,
        take_profit=signals.take_profit,
        size=signals.size,
        detail=detail,
    )
    market.prices = PriceSeries(market.time, market.open, market.high, market.low, market.close, market.bar_ms, detail)
    market.cands = _candidates(market, config)
    return market


# ---------------------------------------------------------------------------------------
# Entry candidates and their exits, computed up front per market.


@dataclass
class _Candidates:
    """Every bar where a position could open (sorted), what it would cost, and where it would
    end. Lists, because the event loop reads single items (faster than numpy scalars)."""

    bar: list[int]
    side: list[int]
    time: list[int]
    price: list[float]
    stop: list[float]
    fraction: list[float]
    exit_bar: list[int]
    exit_phase: list[int]
    exit_time: list[int]
    exit_price: list[float]
    exit_reason: list[int]
    exit_maker: list[bool]
    arrays: dict  # the numpy inputs of candidate_exits, for exits computed on demand
    columns: dict  # numpy twins of the lists above, for building the result tables


def _levels(market: _Market, config: BacktestConfig, signal_bar, side, price):
    """Absolute stop and target per candidate: the strategy's own prices first, else the config's %."""
    stop = np.full(len(side), np.nan) if market.stop_loss is None else np.asarray(market.stop_loss, np.float64)[signal_bar]
    target = np.full(len(side), np.nan) if market.take_profit is None else np.asarray(market.take_profit, np.float64)[signal_bar]
    if config.stop_loss_pct is not None:
        stop = np.where(np.isnan(stop), price * (1.0 - side * config.stop_loss_pct), stop)
    if config.take_profit_pct is not None:
        target = np.where(np.isnan(target), price * (1.0 + side * config.take_profit_pct), target)
    tick = market.rules.price_tick
    if tick:
        stop, target = np.round(stop / tick) * tick, np.round(target / tick) * tick
    return stop, target


def _candidates(market: _Market, config: BacktestConfig) -> _Candidates:
    n = len(market.time)
    fill_phase = PHASE_OPEN if config.fill_at == NEXT_OPEN else PHASE_CLOSE
    long_bars, short_bars = np.asarray(market.entries[LONG], np.int64), np.asarray(market.entries[SHORT], np.int64)
    bar = np.concatenate((long_bars, short_bars))
    side = np.concatenate((np.ones(len(long_bars), np.int64), -np.ones(len(short_bars), np.int64)))
    order = np.argsort(bar, kind="stable")
    bar, side = bar[order], side[order]
    raw = (market.open if fill_phase == PHASE_OPEN else market.close)[bar]
    price = market_fill_prices(raw, side, config.fees.slippage_bps, market.rules.price_tick)
    signal_bar = bar - 1 if fill_phase == PHASE_OPEN else bar
    stop, target = _levels(market, config, signal_bar, side, price)
    fraction = np.ones(len(bar))
    if market.size is not None:
        wanted = np.asarray(market.size, np.float64)[signal_bar]
        fraction = np.where(np.isnan(wanted), 1.0, np.clip(wanted, 0.0, 1.0))
    long_exits, short_exits = np.asarray(market.exits[LONG], np.int64), np.asarray(market.exits[SHORT], np.int64)
    signal_exit = np.where(side > 0, _next_after(long_exits, bar, n), _next_after(short_exits, bar, n))
    first = bar if fill_phase == PHASE_OPEN else bar + 1
    arrays = dict(side=side, entry_price=price, first=first, signal_exit=signal_exit, stop=stop, target=target)
    rules = _exit_rules(market, config)
    windows = int(np.maximum(signal_exit - first, 0).sum())
    if windows <= 4 * n + 10_000:
        exits = candidate_exits(market.prices, rules, **arrays)
    else:  # windows overlap a lot (entry signals while in a position): only for those taken

        def unknown():
            return np.full(len(bar), UNKNOWN_EXIT, np.int64)

        exits = Exits(unknown(), unknown(), np.zeros(len(bar)), unknown(), np.zeros(len(bar), bool))
    exit_time = np.where(exits.bar >= 0, market.time[np.maximum(exits.bar, 0)], -1)
    columns = dict(
        bar=bar,
        side=side,
        time=market.time[bar],
        price=price,
        exit_bar=exits.bar,
        exit_time=exit_time,
        exit_price=exits.price,
        exit_reason=exits.reason,
        exit_maker=exits.maker,
    )
    return _Candidates(
        bar.tolist(),
        side.tolist(),
        columns["time"].tolist(),
        price.tolist(),
        stop.tolist(),
        fraction.tolist(),
        exits.bar.tolist(),
        exits.phase.tolist(),
        exit_time.tolist(),
        exits.price.tolist(),
        exits.reason.tolist(),
        exits.maker.tolist(),
        arrays,
        columns,
    )


def _next_after(sorted_bars: np.ndarray, bars: np.ndarray, none: int) -> np.ndarray:
    """First of sorted_bars strictly after each of bars; `none` when there is none."""
    k = np.searchsorted(sorted_bars, bars, side="right")
    padded = np.concatenate((sorted_bars, [none]))
    return padded[k]


def _exit_rules(market: _Market, config: BacktestConfig) -> ExitRules:
    return ExitRules(
        fill_phase=PHASE_OPEN if config.fill_at == NEXT_OPEN else PHASE_CLOSE,
        slippage_bps=config.fees.slippage_bps,
        tick=market.rules.price_tick,
        trailing_pct=config.trailing_stop_pct,
        close_at_end=config.close_at_end,
    )


def _exit_on_demand(market: _Market, config: BacktestConfig, k: int) -> None:
    cands = market.cands
    one = {name: values[k : k + 1] for name, values in cands.arrays.items()}
    exits = candidate_exits(market.prices, _exit_rules(market, config), **one)
    bar = int(exits.bar[0])
    cands.exit_bar[k], cands.exit_phase[k] = bar, int(exits.phase[0])
    cands.exit_time[k] = int(market.time[bar]) if bar >= 0 else -1
    cands.exit_price[k], cands.exit_reason[k] = float(exits.price[0]), int(exits.reason[0])
    cands.exit_maker[k] = bool(exits.maker[0])
    for name in ("exit_bar", "exit_time", "exit_price", "exit_reason", "exit_maker"):
        cands.columns[name][k] = getattr(cands, name)[k]


# ---------------------------------------------------------------------------------------
# The simulation: events in time order across markets, one shared cash balance.


class _Simulation:
    def __init__(self, markets: list[_Market], config: BacktestConfig):
        self.markets = markets
        self.config = config
        self.fill_phase = PHASE_OPEN if config.fill_at == NEXT_OPEN else PHASE_CLOSE
        self.cash = float(config.initial_balance)
        # market index -> (candidate, quantity, requested quantity, entry fee)
        self.positions: dict[int, tuple[int, float, float, float]] = {}
        self.heap: list[tuple] = []
        # Flat rows, not objects, in the hot loop: (market, candidate, is exit, quantity, fee,
        # cash after, signed position after) and (market, candidate, quantity, requested, fees, pnl).
        self.fill_rows: list[tuple] = []
        self.trade_rows: list[tuple] = []
        self.skipped: list[SkippedOrder] = []
        self.protections_active = config.protections.active
        self.protection_state = risk.protection_state_new(self.cash)
        self.taker, self.maker = config.fees.taker, config.fees.maker

    def run(self) -> None:
        for market in self.markets:
            self._schedule_entry(market, -1, -1)
        heap, markets = self.heap, self.markets
        while heap:
            _, _, kind, index, k = heapq.heappop(heap)
            if kind == EXIT_EVENT:
                self._close(markets[index], k)
            else:
                self._open(markets[index], k)

    def _schedule_entry(
        self, market: _Market, after_bar: int, after_phase: int, *, same_phase_ok: bool = False, after_candidate: int = -1
    ) -> None:
        """Queue the first entry candidate after (after_bar, after_phase). After an exit, an
        entry in the same phase may follow (a reversal: entries sort after exits), but never
        the candidate that opened the position just closed."""
        later = self.fill_phase > after_phase or (same_phase_ok and self.fill_phase == after_phase)
        find = bisect_left if later else bisect_right
        cands = market.cands
        k = max(find(cands.bar, after_bar), after_candidate + 1)
        if k < len(cands.bar):
            heapq.heappush(self.heap, (cands.time[k], self.fill_phase, ENTRY_EVENT, market.index, k))

    def _open(self, market: _Market, k: int) -> None:
        reason = None
        if self.protections_active:
            reason = risk.entry_refusal(
                self.config.protections, self.protection_state, market=market.name, now_ms=market.cands.time[k]
            )
        if reason is None:
            reason = self._try_open(market, k)
        if reason is not None:
            cands = market.cands
            self.skipped.append(SkippedOrder(market.name, cands.time[k], cands.bar[k], SIDE_NAMES[cands.side[k]], reason))
            self._schedule_entry(market, cands.bar[k], self.fill_phase)

    def _try_open(self, market: _Market, k: int) -> str | None:
        cands, rules, taker = market.cands, market.rules, self.taker
        price, side = cands.price[k], cands.side[k]
        equity, free_margin = self._equity_now(market, k) if self.positions else (self.cash, self.cash)
        requested = order_quantity(
            self.config.sizing, equity=equity, price=price, fee_rate=taker, stop_price=cands.stop[k], fraction=cands.fraction[k]
        )
        if not requested > 0:
            return NO_SIZE
        if self.config.entry_factor is not None:  # after the sizing rule, before what cash allows
            requested *= self.config.entry_factor(int(cands.time[k]), equity)
        affordable = free_margin / (price * (1.0 + taker)) if free_margin > 0 else 0.0
        quantity = requested if requested <= affordable else affordable
        if rules.amount_step:
            quantity = floor_to_step(quantity, rules.amount_step)
        if not quantity > 0:
            return INSUFFICIENT_FUNDS
        if quantity < rules.min_amount:
            return BELOW_MIN_AMOUNT
        if quantity * price < rules.min_notional:
            return BELOW_MIN_NOTIONAL
        fee = quantity * price * taker
        self.cash -= side * quantity * price + fee
        self.positions[market.index] = (k, quantity, requested if requested > quantity else quantity, fee)
        self.fill_rows.extend((market.index, k, 0, quantity, fee, self.cash, side * quantity))
        if self.protections_active:
            risk.position_opened(self.protection_state)
        if cands.exit_bar[k] == UNKNOWN_EXIT:
            _exit_on_demand(market, self.config, k)
        if cands.exit_bar[k] >= 0:
            heapq.heappush(self.heap, (cands.exit_time[k], cands.exit_phase[k], EXIT_EVENT, market.index, k))
        return None

    def _equity_now(self, market: _Market, k: int) -> tuple[float, float]:
        """Equity and free margin (1x) just before this fill, other positions at their last close."""
        now = market.cands.time[k]
        equity, exposure = self.cash, 0.0
        for index, (j, quantity, _, _) in self.positions.items():
            other = self.markets[index]
            at = int(np.searchsorted(other.time, now, side="left" if self.fill_phase == PHASE_OPEN else "right")) - 1
            mark = float(other.close[at]) if at >= 0 else other.cands.price[j]
            equity += other.cands.side[j] * quantity * mark
            exposure += quantity * mark
        return equity, equity - exposure

    def _close(self, market: _Market, k: int) -> None:
        cands = market.cands
        _, quantity, requested, entry_fee = self.positions.pop(market.index)
        price, side, maker = cands.exit_price[k], cands.side[k], cands.exit_maker[k]
        fee = quantity * price * (self.maker if maker else self.taker)
        self.cash += side * quantity * price - fee
        pnl = side * quantity * (price - cands.price[k]) - entry_fee - fee
        self.fill_rows.extend((market.index, k, 1, quantity, fee, self.cash, 0.0))
        self.trade_rows.extend((market.index, k, quantity, requested, entry_fee + fee, pnl))
        if self.protections_active:
            reason = cands.exit_reason[k]
            risk.position_closed(
                self.config.protections,
                self.protection_state,
                market=market.name,
                now_ms=cands.exit_time[k],
                pnl=pnl,
                by_stop=reason in (STOP_LOSS, TRAILING_STOP),
            )
        self._schedule_entry(market, cands.exit_bar[k], cands.exit_phase[k], same_phase_ok=True, after_candidate=k)


# ---------------------------------------------------------------------------------------
# The entry point.


def backtest(
    candles: Mapping[str, Candles],
    signals: Mapping[str, SignalArrays] | Strategy,
    config: BacktestConfig | None = None,
    *,
    detail: Mapping[str, Candles] | None = None,
) -> BacktestResult:
    """Run one backtest over every market in `candles` with one shared cash balance.

    `signals` is a dict market -> SignalArrays, or a Strategy that computes them per market.
    `detail` holds lower-timeframe candles per market, used only to decide whether the stop
    or the target came first inside a candle that touches both.
    """
    config = config or BacktestConfig()
    if not candles:
        raise BacktestInputError("no markets to backtest: candles is empty")
    names = sorted(candles)  # a fixed order makes ties between markets deterministic
    detail = detail or {}
    markets = []
    for index, name in enumerate(names):
        if len(candles[name].time) == 0:
            raise BacktestInputError(f"{name}: no candles")
        market_signals = signals.signals(candles[name]) if isinstance(signals, Strategy) else signals.get(name)
        if market_signals is None:
            raise BacktestInputError(f"{name}: no signals for this market")
        markets.append(_market_prepare(name, index, candles[name], market_signals, config, detail.get(name)))
    sim = _Simulation(markets, config)
    sim.run()
    fills, trades = _fill_table(sim, markets), _trade_table(sim, markets)
    grid, equity = _equity_curve(config, markets, fills)
    result = BacktestResult(
        markets=names,
        trade_table=trades,
        fill_table=fills,
        open_positions=_open_positions(sim, markets),
        skipped=sim.skipped,
        time=grid,
        equity=equity,
        initial_balance=float(config.initial_balance),
        final_equity=float(equity[-1]),
    )
    if config.compute_metrics:
        from apps.engine.metrics import backtest_metrics

        result.metrics = backtest_metrics(result, risk_free_rate=config.risk_free_rate)
    return result
