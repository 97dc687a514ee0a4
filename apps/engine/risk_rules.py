"""Pre-trade risk rules, pure: a proposal and a snapshot of the desk in, a decision with every
reason out. The service (apps/risk/services.py) builds the snapshot under the account's row
lock, so two proposals never both pass a limit only one of them fits.

Closing orders (reduce-only) only meet the kill switch and the rate caps: a desk that is
losing money, halted for entries or blind on market data must still be able to get out.

One position per market: an entry while the account holds the market (or is buying it) is
refused, as the backtest ignores an entry while its position is open. Live and backtest then
hold the same quantities, not only trade at the same moments.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from apps.engine.display import decimal_text

HUNDRED = Decimal(100)


class KillState(StrEnum):
    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"


_SEVERITY = {KillState.ACTIVE: 0, KillState.REDUCE_ONLY: 1, KillState.HALTED: 2}


def kill_state_combine(*states: str) -> KillState:
    """The strictest of the global and the account's switch wins."""
    return max((KillState(state) for state in states), key=_SEVERITY.__getitem__, default=KillState.ACTIVE)


@dataclass(frozen=True)
class Limits:
    max_order_notional: Decimal | None = None
    max_position_pct: Decimal | None = None
    max_open_positions: int | None = None
    max_daily_loss_pct: Decimal | None = None
    max_drawdown_pct: Decimal | None = None
    max_price_deviation_pct: Decimal | None = Decimal("0.5")
    max_orders_per_minute_strategy: int | None = 100
    max_orders_per_minute_account: int | None = 100
    # A strategy emits at most one signal per market and candle: far more is a runaway loop.
    max_signals_per_minute_strategy: int | None = 100


@dataclass(frozen=True)
class Proposal:
    reduces: bool  # closes (part of) a position
    notional: Decimal  # amount x reference price, in quote
    price: Decimal  # the price the signal saw


@dataclass(frozen=True)
class DeskState:
    kill_state: KillState = KillState.ACTIVE
    strategy_running: bool = True
    equity: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)
    day_start_equity: Decimal = Decimal(0)
    market_exposure: Decimal = Decimal(0)  # position + live entry orders on this market, in quote
    open_positions: int = 0  # positions and live entries, all markets
    has_position_here: bool = False
    holding_here: str = ""  # "holding 0.5" / "buying 0.5" when an entry would add to a position
    last_price: Decimal | None = None
    data_fresh: bool = True
    orders_last_minute_strategy: int = 0
    orders_last_minute_account: int = 0
    signals_last_minute_strategy: int = 0  # the strategy's signals before this one
    venue_down: str = ""  # why the exchange is considered down (empty: it answers)
    reconciling: str = ""  # why the desk does not yet know what the exchange holds (the start gate)


@dataclass(frozen=True)
class Check:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def reason(self) -> str:
        return "; ".join(check.detail for check in self.failed) or "all checks passed"


Rule = Callable[[Proposal, DeskState, Limits], Check | None]


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return part * HUNDRED / whole if whole > 0 else Decimal(0)


def rule_kill_switch(p: Proposal, s: DeskState, lim: Limits) -> Check:
    if s.kill_state == KillState.HALTED:
        return Check("kill_switch", False, "kill switch is HALTED: no order leaves the desk")
    if s.kill_state == KillState.REDUCE_ONLY and not p.reduces:
        return Check("kill_switch", False, "kill switch is REDUCE_ONLY: only closing orders are allowed")
    return Check("kill_switch", True, f"kill switch {s.kill_state.value}")


def rule_strategy_running(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces:
        return None
    return Check(
        "strategy_status", s.strategy_running, "strategy is running" if s.strategy_running else "strategy is not running"
    )


def rule_rate_caps(p: Proposal, s: DeskState, lim: Limits) -> Check:
    cap = lim.max_orders_per_minute_strategy
    if cap is not None and s.orders_last_minute_strategy >= cap:
        return Check(
            "rate_cap_strategy",
            False,
            f"strategy order rate cap reached: {s.orders_last_minute_strategy} orders in the last minute (cap {cap}/min)",
        )
    cap = lim.max_orders_per_minute_account
    if cap is not None and s.orders_last_minute_account >= cap:
        return Check(
            "rate_cap_account",
            False,
            f"account order rate cap reached: {s.orders_last_minute_account} orders in the last minute (cap {cap}/min)",
        )
    return Check("rate_caps", True, "under the order rate caps")


def rule_signal_rate(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    cap = lim.max_signals_per_minute_strategy
    if cap is None:
        return None
    seen = s.signals_last_minute_strategy
    if seen >= cap:
        return Check(
            "signal_rate_strategy",
            False,
            f"strategy signal rate cap reached: {seen} signals in the last minute "
            f"(cap {cap}/min; a strategy sends at most one per market and candle)",
        )
    return Check("signal_rate_strategy", True, f"{seen} signals in the last minute (cap {cap}/min)")


def rule_one_position_per_market(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces:
        return None
    if s.holding_here:
        return Check(
            "in_position",
            False,
            f"already {s.holding_here}: the desk does not add to an open position (one position per market, as in the backtest)",
        )
    return Check("in_position", True, "no position in this market")


def rule_max_order_notional(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces or lim.max_order_notional is None:
        return None
    ok = p.notional <= lim.max_order_notional
    return Check(
        "max_order_notional",
        ok,
        f"order value {p.notional:.2f} {'<=' if ok else 'exceeds'} max order notional {decimal_text(lim.max_order_notional)}",
    )


def rule_max_position_pct(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces or lim.max_position_pct is None:
        return None
    after = _pct(s.market_exposure + p.notional, s.equity) if s.equity > 0 else Decimal("Infinity")
    ok = after <= lim.max_position_pct
    return Check(
        "max_position_pct",
        ok,
        f"position would be {after:.2f}% of equity {s.equity:.2f} (max {decimal_text(lim.max_position_pct)}%)",
    )


def rule_max_open_positions(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces or s.has_position_here or lim.max_open_positions is None:
        return None
    ok = s.open_positions < lim.max_open_positions
    return Check("max_open_positions", ok, f"{s.open_positions} positions open or opening (max {lim.max_open_positions})")


def rule_daily_loss(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces or lim.max_daily_loss_pct is None:
        return None
    loss = _pct(s.day_start_equity - s.equity, s.day_start_equity)
    ok = loss < lim.max_daily_loss_pct
    return Check("max_daily_loss", ok, f"today's loss {loss:.2f}% (max {decimal_text(lim.max_daily_loss_pct)}%)")


def rule_drawdown(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces or lim.max_drawdown_pct is None:
        return None
    drawdown = _pct(s.peak_equity - s.equity, s.peak_equity)
    ok = drawdown < lim.max_drawdown_pct
    return Check(
        "max_drawdown", ok, f"drawdown {drawdown:.2f}% from peak {s.peak_equity:.2f} (max {decimal_text(lim.max_drawdown_pct)}%)"
    )


def rule_price_deviation(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces or lim.max_price_deviation_pct is None:
        return None
    if s.last_price is None or s.last_price <= 0:
        return Check("price_deviation", False, "no last price to check the order price against")
    deviation = abs(p.price - s.last_price) * HUNDRED / s.last_price
    ok = deviation <= lim.max_price_deviation_pct
    return Check(
        "price_deviation",
        ok,
        f"order price {decimal_text(p.price)} is {deviation:.3f}% from last price {decimal_text(s.last_price)} "
        f"(max {decimal_text(lim.max_price_deviation_pct)}%)",
    )


def rule_fresh_data(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces:
        return None
    return Check(
        "fresh_data",
        s.data_fresh,
        "market data is fresh" if s.data_fresh else "market data is stale (older than two candle periods): entries paused",
    )


def rule_venue_up(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    if p.reduces:
        return None  # an exit is still tried: it waits in UNKNOWN rather than never leaving
    if s.venue_down:
        return Check("venue_down", False, f"the exchange is not answering ({s.venue_down}): entries paused until it does")
    return Check("venue_down", True, "the exchange answers")


def rule_reconciled(p: Proposal, s: DeskState, lim: Limits) -> Check | None:
    """The start gate: after a worker start or a long outage, no entry until the desk compared
    its positions with the exchange's balances once. Exits and protective stops still go out."""
    if p.reduces:
        return None
    if s.reconciling:
        return Check("reconciling", False, f"reconciling with the exchange ({s.reconciling}): entries wait until it is done")
    return Check("reconciling", True, "holdings reconciled with the exchange")


RULES: tuple[Rule, ...] = (
    rule_kill_switch,
    rule_strategy_running,
    rule_signal_rate,
    rule_rate_caps,
    rule_one_position_per_market,
    rule_venue_up,
    rule_reconciled,
    rule_fresh_data,
    rule_price_deviation,
    rule_max_order_notional,
    rule_max_position_pct,
    rule_max_open_positions,
    rule_daily_loss,
    rule_drawdown,
)
# Rejections that say the strategy misbehaves (they count toward pausing it); the others
# describe the desk's state (halted, stale data) and are no fault of the strategy.
STRATEGY_FAULTS = frozenset(
    {"signal_rate_strategy", "rate_cap_strategy", "rate_cap_account", "max_order_notional", "price_deviation"}
)


def risk_evaluate(proposal: Proposal, state: DeskState, limits: Limits) -> Decision:
    checks = (rule(proposal, state, limits) for rule in RULES)
    return Decision(tuple(check for check in checks if check is not None))
