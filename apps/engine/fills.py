"""How an order turns into a fill: price (slippage, tick), fee, and which of stop or target
came first inside a candle.

Conventions (shared by the backtest and the paper broker):
- Market orders (entries, signal exits, stops, end of data) pay the taker fee and slippage
  against the trader. Take-profit orders rest as limit orders: maker fee, no slippage.
- A stop triggers inside a candle at its price; when the candle opens beyond it (a gap) it
  fills at the open, never at the better stop price. A target gapped through fills at the open
  (the better price, as a resting limit would).
- When one candle touches both the stop and the target, the lower-timeframe (detail) candles
  inside it decide which came first; still ambiguous or without detail data, the stop wins
  (the pessimistic choice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BUY = 1
SELL = -1


@dataclass(frozen=True)
class FeeSchedule:
    """Fees as fractions of notional (0.001 = 0.1 %); slippage in basis points of price."""

    maker: float = 0.001
    taker: float = 0.001
    slippage_bps: float = 0.0

    def __post_init__(self):
        for name in ("maker", "taker"):
            value = getattr(self, name)
            if not -0.01 <= value < 0.1:
                raise ValueError(f"{name} fee must be between -1 % and 10 % of notional, got {value}")
        if not 0 <= self.slippage_bps < 1000:
            raise ValueError(f"slippage must be between 0 and 1000 bps, got {self.slippage_bps}")


@dataclass(frozen=True)
class MarketRules:
    """Exchange precision of one market: amount step, price tick, minimums (0 = none)."""

    amount_step: float = 0.0
    price_tick: float = 0.0
    min_notional: float = 0.0
    min_amount: float = 0.0

    def __post_init__(self):
        for name in ("amount_step", "price_tick", "min_notional", "min_amount"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative, got {getattr(self, name)}")


def floor_to_step(amount: float, step: float) -> float:
    """Largest multiple of `step` not above `amount` (the exchange truncates amounts)."""
    if step <= 0:
        return amount
    # The small epsilon keeps 0.3 / 0.1 = 2.9999999999999996 from losing a whole step.
    units = math.floor(amount / step + 1e-9)
    return round(units * step, 12)


def round_to_tick(price: float, tick: float, direction: int = 0) -> float:
    """Price on the tick grid: up (direction=1), down (-1) or nearest (0)."""
    if tick <= 0:
        return price
    units = price / tick
    if direction > 0:
        units = math.ceil(units - 1e-9)
    elif direction < 0:
        units = math.floor(units + 1e-9)
    else:
        units = round(units)
    return round(units * tick, 12)


def market_fill_price(price: float, side: int, slippage_bps: float, tick: float = 0.0) -> float:
    """A market order's price: slippage against the trader, rounded to the tick against them too."""
    if slippage_bps:
        price = price * (1.0 + side * slippage_bps * 1e-4)
        return round_to_tick(price, tick, side)
    return price


def stop_exit_price(open_price: float, stop: float, is_long: bool) -> float:
    """Trigger price of a stop hit inside the candle, or the open when the candle gapped through."""
    if is_long:
        return open_price if open_price <= stop else stop
    return open_price if open_price >= stop else stop


def target_exit_price(open_price: float, target: float, is_long: bool) -> float:
    """A resting take-profit fills at its price, or at the (better) open after a gap."""
    if is_long:
        return open_price if open_price >= target else target
    return open_price if open_price <= target else target


def stop_came_first(
    *,
    detail_open: np.ndarray,
    detail_high: np.ndarray,
    detail_low: np.ndarray,
    stop: float,
    target: float,
    is_long: bool,
) -> tuple[bool, int]:
    """Which level did the lower-timeframe candles inside one candle touch first?

    Returns (stop_first, index of the deciding detail candle). Still ambiguous (one detail
    candle touches both and its open does not decide) or no detail candle touches either:
    the stop, which is the pessimistic answer.
    """
    if is_long:
        hit_stop, hit_target = detail_low <= stop, detail_high >= target
    else:
        hit_stop, hit_target = detail_high >= stop, detail_low <= target
    touched = np.flatnonzero(hit_stop | hit_target)
    if touched.size == 0:
        return True, -1
    first = int(touched[0])
    if hit_stop[first] and hit_target[first]:
        # Both inside one detail candle: only a gap at its open can tell.
        opened = float(detail_open[first])
        beyond_target = opened >= target if is_long else opened <= target
        return (not beyond_target), first
    return bool(hit_stop[first]), first


# ---------------------------------------------------------------------------------------
# Where positions end: the exit of every entry candidate at once, vectorised.

EXIT_SIGNAL, STOP_LOSS, TRAILING_STOP, TAKE_PROFIT, END_OF_DATA = 1, 2, 3, 4, 5
REASON_NAMES = ("entry", "exit_signal", "stop_loss", "trailing_stop", "take_profit", "end_of_data")
NO_EXIT = -1  # still open at the end (close_at_end off)
UNKNOWN_EXIT = -2  # not computed yet (worked out when the position opens)
PHASE_OPEN, PHASE_INTRABAR, PHASE_CLOSE = 0, 1, 2


@dataclass
class PriceSeries:
    """One market's candles as plain arrays (+ optional detail candles inside them)."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    bar_ms: int
    detail: object | None = None  # Candles of a lower timeframe, or None


@dataclass
class Exits:
    """Exit of each entry candidate: bar, phase, fill price, reason code, maker (limit) or not."""

    bar: np.ndarray
    phase: np.ndarray
    price: np.ndarray
    reason: np.ndarray
    maker: np.ndarray


def market_fill_prices(prices: np.ndarray, sides: np.ndarray, slippage_bps: float, tick: float) -> np.ndarray:
    """Vectorised market_fill_price: slippage and tick rounding against each order's side."""
    if not slippage_bps:
        return prices
    slipped = prices * (1.0 + sides * (slippage_bps * 1e-4))
    if tick <= 0:
        return slipped
    units = slipped / tick
    rounded = np.where(sides > 0, np.ceil(units - 1e-9), np.floor(units + 1e-9))
    return np.round(rounded * tick, 12)


def _window_indices(first: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated candle indices of the windows [first, end) and the window each belongs to."""
    lengths = np.maximum(end - first, 0)
    owner = np.repeat(np.arange(len(first)), lengths)
    offsets = np.arange(owner.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, np.repeat(first, lengths) + offsets


def level_touches(
    prices: PriceSeries,
    *,
    side: np.ndarray,
    first: np.ndarray,
    end: np.ndarray,
    stop: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each window [first, end): the first candle touching the stop or the target.

    Returns (bar or -1, stop touched there, target touched there), one item per window.
    NaN levels never touch. Cost: O(total window length), no Python loop per window.
    """
    owner, index = _window_indices(first, end)
    is_long = side[owner] > 0
    low, high = prices.low[index], prices.high[index]
    stop_at, target_at = stop[owner], target[owner]
    with np.errstate(invalid="ignore"):
        stop_touch = np.where(is_long, low <= stop_at, high >= stop_at)
        target_touch = np.where(is_long, high >= target_at, low <= target_at)
    touched = np.flatnonzero(stop_touch | target_touch)
    bar = np.full(len(first), -1, dtype=np.int64)
    stop_hit = np.zeros(len(first), dtype=bool)
    target_hit = np.zeros(len(first), dtype=bool)
    if touched.size:
        windows = owner[touched]
        earliest = np.ones(touched.size, dtype=bool)
        earliest[1:] = windows[1:] != windows[:-1]
        at, windows = touched[earliest], windows[earliest]
        bar[windows], stop_hit[windows], target_hit[windows] = index[at], stop_touch[at], target_touch[at]
    return bar, stop_hit, target_hit


def stop_first_in_candle(prices: PriceSeries, bar: int, *, is_long: bool, stop: float, target: float) -> bool:
    """A candle touched both: a gap at its open decides, then its detail candles; else the stop."""
    opened = prices.open[bar]
    if (opened <= stop) if is_long else (opened >= stop):
        return True
    if (opened >= target) if is_long else (opened <= target):
        return False
    detail = prices.detail
    if detail is None:
        return True
    start_ms = int(prices.time[bar])
    lo = int(np.searchsorted(detail.time, start_ms, side="left"))
    hi = int(np.searchsorted(detail.time, start_ms + prices.bar_ms, side="left"))
    if hi <= lo:
        return True
    stop_first, _ = stop_came_first(
        detail_open=detail.open[lo:hi],
        detail_high=detail.high[lo:hi],
        detail_low=detail.low[lo:hi],
        stop=stop,
        target=target,
        is_long=is_long,
    )
    return stop_first


@dataclass(frozen=True)
class ExitRules:
    fill_phase: int  # PHASE_OPEN (next open) or PHASE_CLOSE
    slippage_bps: float = 0.0
    tick: float = 0.0
    trailing_pct: float | None = None
    close_at_end: bool = True


def _trailing_touches(prices, side, first, end, entry, stop, target, trail):
    """Per window (a Python loop: trailing levels depend on the path since the entry)."""
    count = len(first)
    bar = np.full(count, -1, dtype=np.int64)
    stop_hit, target_hit = np.zeros(count, bool), np.zeros(count, bool)
    level = stop.astype(np.float64, copy=True)
    for k in range(count):
        start, stop_end = int(first[k]), int(end[k])
        if stop_end <= start:
            continue
        is_long = side[k] > 0
        favour = prices.high[start:stop_end] if is_long else prices.low[start:stop_end]
        against = prices.low[start:stop_end] if is_long else prices.high[start:stop_end]
        # The best price of the candles before, never inside the same candle (order unknown).
        best = (np.maximum if is_long else np.minimum).accumulate(np.concatenate(([entry[k]], favour[:-1])))
        levels = best * (1.0 - trail) if is_long else best * (1.0 + trail)
        if stop[k] == stop[k]:
            levels = np.maximum(levels, stop[k]) if is_long else np.minimum(levels, stop[k])
        with np.errstate(invalid="ignore"):
            stop_touch = against <= levels if is_long else against >= levels
            target_touch = favour >= target[k] if is_long else favour <= target[k]
        touched = np.flatnonzero(stop_touch | target_touch)
        if touched.size:
            at = int(touched[0])
            bar[k], stop_hit[k], target_hit[k], level[k] = start + at, stop_touch[at], target_touch[at], levels[at]
    return bar, stop_hit, target_hit, level


def candidate_exits(
    prices: PriceSeries,
    rules: ExitRules,
    *,
    side: np.ndarray,
    entry_price: np.ndarray,
    first: np.ndarray,
    signal_exit: np.ndarray,
    stop: np.ndarray,
    target: np.ndarray,
) -> Exits:
    """Exit of each candidate position: the first of stop / target (checked from candle `first`)
    and the signal exit filled at candle `signal_exit` (len(prices) = none), else end of data."""
    n = len(prices.time)
    end = signal_exit if rules.fill_phase == PHASE_OPEN else np.minimum(signal_exit + 1, n)
    has_signal = signal_exit < n
    raw_column = prices.open if rules.fill_phase == PHASE_OPEN else prices.close
    raw = np.where(has_signal, raw_column[np.minimum(signal_exit, n - 1)], prices.close[n - 1])
    exits = Exits(
        bar=np.where(has_signal, signal_exit, n - 1 if rules.close_at_end else NO_EXIT).astype(np.int64),
        phase=np.where(has_signal, rules.fill_phase, PHASE_CLOSE).astype(np.int64),
        price=market_fill_prices(raw.astype(np.float64), -side, rules.slippage_bps, rules.tick),
        reason=np.where(has_signal, EXIT_SIGNAL, END_OF_DATA).astype(np.int64),
        maker=np.zeros(len(side), dtype=bool),
    )
    if rules.trailing_pct is not None:
        bar, stop_hit, target_hit, level = _trailing_touches(
            prices, side, first, end, entry_price, stop, target, rules.trailing_pct
        )
        trailing = ~(level == stop)  # NaN fixed stop or a trailing level above it
    elif np.isfinite(stop).any() or np.isfinite(target).any():
        bar, stop_hit, target_hit = level_touches(prices, side=side, first=first, end=end, stop=stop, target=target)
        level, trailing = stop, np.zeros(len(side), bool)
    else:
        return exits
    _apply_level_exits(prices, rules, exits, side, bar, stop_hit, target_hit, level, target, trailing)
    return exits


def _apply_level_exits(prices, rules, exits, side, bar, stop_hit, target_hit, level, target, trailing) -> None:
    for k in np.flatnonzero((bar >= 0) & stop_hit & target_hit):
        stop_first = stop_first_in_candle(prices, int(bar[k]), is_long=side[k] > 0, stop=level[k], target=target[k])
        stop_hit[k], target_hit[k] = stop_first, not stop_first
    hit = np.flatnonzero(bar >= 0)
    if hit.size == 0:
        return
    hit_bar, is_long, by_stop = bar[hit], side[hit] > 0, stop_hit[hit]
    opened = prices.open[hit_bar]
    wanted = np.where(by_stop, level[hit], target[hit])
    # A stop gapped through fills at the (worse) open; a target gapped through at the (better) open.
    gapped = np.where(
        by_stop, np.where(is_long, opened <= wanted, opened >= wanted), np.where(is_long, opened >= wanted, opened <= wanted)
    )
    raw = np.where(gapped, opened, wanted)
    stop_price = market_fill_prices(raw, -side[hit], rules.slippage_bps, rules.tick)
    exits.bar[hit] = hit_bar
    exits.phase[hit] = np.where(gapped, PHASE_OPEN, PHASE_INTRABAR)
    exits.price[hit] = np.where(by_stop, stop_price, raw)
    exits.reason[hit] = np.where(by_stop, np.where(trailing[hit], TRAILING_STOP, STOP_LOSS), TAKE_PROFIT)
    exits.maker[hit] = ~by_stop
