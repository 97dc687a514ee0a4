"""What a backtest returns: trades, fills and open positions as numpy columns (objects on
demand), the equity curve valued at market on every candle, and the skipped orders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from apps.engine.fills import REASON_NAMES

if TYPE_CHECKING:
    from apps.engine.backtest import BacktestConfig, _Market, _Simulation

LONG, SHORT = 1, -1
SIDE_NAMES = {LONG: "long", SHORT: "short"}


@dataclass(slots=True)
class Trade:
    market: str
    side: str  # long / short
    entry_time: int  # ms UTC
    entry_bar: int
    entry_price: float
    exit_time: int
    exit_bar: int
    exit_price: float
    quantity: float
    requested_quantity: float  # what sizing wanted; more than quantity when cash ran short
    fees: float  # entry + exit, quote
    pnl: float  # net of both fees, quote
    exit_reason: str

    @property
    def partial(self) -> bool:
        return self.quantity < self.requested_quantity


@dataclass(slots=True)
class Fill:
    market: str
    time: int
    bar: int
    side: str  # buy / sell
    price: float
    quantity: float
    fee: float
    liquidity: str  # taker / maker
    reason: str  # entry or the exit reason


@dataclass(slots=True)
class OpenPosition:
    market: str
    side: str
    entry_time: int
    entry_bar: int
    entry_price: float
    quantity: float
    entry_fee: float
    mark_price: float

    @property
    def unrealised_pnl(self) -> float:
        sign = 1 if self.side == "long" else -1
        return sign * self.quantity * (self.mark_price - self.entry_price)


@dataclass(slots=True)
class SkippedOrder:
    market: str
    time: int
    bar: int
    side: str
    reason: str


# ---------------------------------------------------------------------------------------
# Columns from the rows, and the equity curve, vectorised.


def _fill_table(sim: _Simulation, markets: list[_Market]) -> dict[str, np.ndarray]:
    rows = np.array(sim.fill_rows, dtype=np.float64).reshape(-1, 7)
    market, k, is_exit = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2] > 0
    table = {"market": market, "quantity": rows[:, 3], "fee": rows[:, 4], "cash_after": rows[:, 5], "position_after": rows[:, 6]}
    size = len(market)
    bar, time, side = np.zeros(size, np.int64), np.zeros(size, np.int64), np.zeros(size, np.int64)
    price, maker, reason = np.zeros(size), np.zeros(size, bool), np.zeros(size, np.int64)
    for item in markets:
        mine = market == item.index
        if not mine.any():
            continue
        cands, j, leaving = item.cands, k[mine], is_exit[mine]
        entry_bar, exit_bar = cands.columns["bar"][j], cands.columns["exit_bar"][j]
        bar[mine] = np.where(leaving, exit_bar, entry_bar)
        time[mine] = item.time[bar[mine]]
        side[mine] = np.where(leaving, -1, 1) * cands.columns["side"][j]
        price[mine] = np.where(leaving, cands.columns["exit_price"][j], cands.columns["price"][j])
        maker[mine] = leaving & cands.columns["exit_maker"][j]
        reason[mine] = np.where(leaving, cands.columns["exit_reason"][j], 0)
    table.update(
        bar=bar,
        time=time,
        side=side,
        price=price,
        maker=maker,
        reason_code=reason,
        reason=np.asarray(REASON_NAMES, dtype=object)[reason],
    )
    return table


def _trade_table(sim: _Simulation, markets: list[_Market]) -> dict[str, np.ndarray]:
    rows = np.array(sim.trade_rows, dtype=np.float64).reshape(-1, 6)
    market, k = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
    table = {"market": market, "quantity": rows[:, 2], "requested_quantity": rows[:, 3], "fees": rows[:, 4], "pnl": rows[:, 5]}
    size = len(market)
    columns = {
        name: np.zeros(size, np.int64) for name in ("side", "entry_bar", "exit_bar", "entry_time", "exit_time", "reason_code")
    }
    entry_price, exit_price = np.zeros(size), np.zeros(size)
    for item in markets:
        mine = market == item.index
        if not mine.any():
            continue
        cands, j = item.cands, k[mine]
        columns["side"][mine] = cands.columns["side"][j]
        columns["entry_bar"][mine] = cands.columns["bar"][j]
        columns["exit_bar"][mine] = cands.columns["exit_bar"][j]
        columns["entry_time"][mine] = cands.columns["time"][j]
        columns["exit_time"][mine] = cands.columns["exit_time"][j]
        columns["reason_code"][mine] = cands.columns["exit_reason"][j]
        entry_price[mine], exit_price[mine] = cands.columns["price"][j], cands.columns["exit_price"][j]
    table.update(
        columns,
        entry_price=entry_price,
        exit_price=exit_price,
        exit_reason=np.asarray(REASON_NAMES, dtype=object)[columns["reason_code"]],
    )
    return table


def _carried_forward(length: int, at: np.ndarray, values: np.ndarray, before: float) -> np.ndarray:
    """Array of `length` where each slot holds the value of the last event at or before it.
    `at` is sorted; of several events in one slot the last one wins."""
    if at.size == 0:
        return np.full(length, before, dtype=np.float64)
    last_in_slot = np.ones(at.size, dtype=bool)
    last_in_slot[:-1] = at[1:] != at[:-1]
    starts = at[last_in_slot]
    segment_values = np.concatenate(([before], values[last_in_slot]))
    counts = np.diff(np.concatenate(([0], starts, [length])))
    return np.repeat(segment_values, counts)


def _equity_curve(config: BacktestConfig, markets: list[_Market], fills: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if len(markets) == 1:
        grid = markets[0].time
    else:
        grid = np.unique(np.concatenate([market.time for market in markets]))
    fill_bars, fill_market = fills["bar"], fills["market"]
    fill_slot = fill_bars if len(markets) == 1 else np.searchsorted(grid, fills["time"])
    # Fills are in event (time) order, so their slots never go back.
    equity = _carried_forward(len(grid), fill_slot, fills["cash_after"], config.initial_balance)
    for market in markets:
        mine = fill_market == market.index
        if not mine.any():
            continue
        held = _carried_forward(len(market.time), fill_bars[mine], fills["position_after"][mine], 0.0)
        value = held * market.close
        if len(markets) == 1:
            equity += value
        else:
            slot = np.searchsorted(market.time, grid, side="right") - 1
            equity += np.where(slot >= 0, value[np.maximum(slot, 0)], 0.0)
    return grid, equity


def _open_positions(sim: _Simulation, markets: list[_Market]) -> list[OpenPosition]:
    still_open = []
    for index, (k, quantity, _, entry_fee) in sorted(sim.positions.items()):
        market, cands = markets[index], markets[index].cands
        still_open.append(
            OpenPosition(
                market.name,
                SIDE_NAMES[cands.side[k]],
                cands.time[k],
                cands.bar[k],
                cands.price[k],
                quantity,
                entry_fee,
                float(market.close[-1]),
            )
        )
    return still_open


@dataclass
class BacktestResult:
    """trade_table / fill_table are columns (numpy arrays, market as an index into `markets`);
    `trades` and `fills` are the same as objects, built on first use."""

    markets: list[str]
    trade_table: dict[str, np.ndarray]
    fill_table: dict[str, np.ndarray]
    open_positions: list[OpenPosition]
    skipped: list[SkippedOrder]
    time: np.ndarray  # int64 ms: every candle time of every market
    equity: np.ndarray  # float64, valued at market at each of those closes
    initial_balance: float
    final_equity: float
    metrics: dict | None = None

    @cached_property
    def trades(self) -> list[Trade]:
        table, names = self.trade_table, self.markets
        rows = zip(
            *(
                table[name].tolist()
                for name in (
                    "market",
                    "side",
                    "entry_time",
                    "entry_bar",
                    "entry_price",
                    "exit_time",
                    "exit_bar",
                    "exit_price",
                    "quantity",
                    "requested_quantity",
                    "fees",
                    "pnl",
                    "exit_reason",
                )
            )
        )
        return [Trade(names[m], SIDE_NAMES[side], *rest) for m, side, *rest in rows]

    @cached_property
    def fills(self) -> list[Fill]:
        table, names = self.fill_table, self.markets
        rows = zip(
            *(table[name].tolist() for name in ("market", "time", "bar", "side", "price", "quantity", "fee", "maker", "reason"))
        )
        return [
            Fill(names[m], time, bar, "buy" if side > 0 else "sell", price, quantity, fee, "maker" if maker else "taker", reason)
            for m, time, bar, side, price, quantity, fee, maker, reason in rows
        ]

    @property
    def skipped_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for order in self.skipped:
            counts[order.reason] = counts.get(order.reason, 0) + 1
        return dict(sorted(counts.items()))
