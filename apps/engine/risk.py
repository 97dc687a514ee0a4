"""Protections shared by the backtest and live risk rules: pure functions over a small state.

Each rule returns the reason an entry is refused, or None. The backtest keeps one
ProtectionState per run; live risk builds the same state from the database.
- max_open_positions: no new position while that many are open (all markets together).
- cooldown_after_stop_ms: no new entry in a market for that long after a stop closed a
  position there.
- max_drawdown + drawdown_pause_ms: once realised equity (closed trades, as freqtrade's
  MaxDrawdown) falls that fraction below its peak, new entries pause for that long; the peak
  restarts from the equity at the pause so that one drawdown pauses once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_OPEN_POSITIONS = "max_open_positions"
COOLDOWN = "cooldown_after_stop"
DRAWDOWN_PAUSE = "max_drawdown_pause"


@dataclass(frozen=True)
class Protections:
    max_open_positions: int | None = None
    cooldown_after_stop_ms: int = 0
    max_drawdown: float | None = None  # fraction, 0.2 = 20 %
    drawdown_pause_ms: int = 0

    def __post_init__(self):
        if self.max_open_positions is not None and self.max_open_positions < 1:
            raise ValueError(f"max open positions must be at least 1, got {self.max_open_positions}")
        if self.cooldown_after_stop_ms < 0 or self.drawdown_pause_ms < 0:
            raise ValueError("cooldown and pause durations cannot be negative")
        if self.max_drawdown is not None and not 0 < self.max_drawdown < 1:
            raise ValueError(f"max drawdown must be a fraction in (0, 1), got {self.max_drawdown}")

    @property
    def active(self) -> bool:
        return self.max_open_positions is not None or self.cooldown_after_stop_ms > 0 or self.max_drawdown is not None


@dataclass
class ProtectionState:
    realised_equity: float
    realised_peak: float
    open_positions: int = 0
    last_stop_ms: dict[str, int] = field(default_factory=dict)
    paused_until_ms: int = -1


def protection_state_new(initial_equity: float) -> ProtectionState:
    return ProtectionState(realised_equity=initial_equity, realised_peak=initial_equity)


def entry_refusal(protections: Protections, state: ProtectionState, *, market: str, now_ms: int) -> str | None:
    """The reason a new entry in `market` at `now_ms` is refused, or None when it may go."""
    if protections.max_open_positions is not None and state.open_positions >= protections.max_open_positions:
        return MAX_OPEN_POSITIONS
    if protections.cooldown_after_stop_ms:
        stopped_at = state.last_stop_ms.get(market)
        if stopped_at is not None and now_ms < stopped_at + protections.cooldown_after_stop_ms:
            return COOLDOWN
    if now_ms < state.paused_until_ms:
        return DRAWDOWN_PAUSE
    return None


def position_opened(state: ProtectionState) -> None:
    state.open_positions += 1


def position_closed(
    protections: Protections,
    state: ProtectionState,
    *,
    market: str,
    now_ms: int,
    pnl: float,
    by_stop: bool,
) -> None:
    """Record a closed position: its P&L moves realised equity, a stop starts the cooldown."""
    state.open_positions -= 1
    state.realised_equity += pnl
    if by_stop:
        state.last_stop_ms[market] = now_ms
    state.realised_peak = max(state.realised_peak, state.realised_equity)
    if protections.max_drawdown is None or state.realised_peak <= 0:
        return
    drawdown = 1.0 - state.realised_equity / state.realised_peak
    if drawdown >= protections.max_drawdown:
        state.paused_until_ms = now_ms + protections.drawdown_pause_ms
        state.realised_peak = state.realised_equity
