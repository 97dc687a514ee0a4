"""Performance metrics of a backtest: plain floats, ints, None and ISO strings (JSON-ready).

Conventions (each has a hand-computed test):
- Returns are in % of the initial balance; the period runs from the first candle's open to the
  last candle's close (n candles of length `bar` span n * bar).
- Annualised return compounds over 365 days: (final / initial) ** (365 / days) - 1.
- Max drawdown is measured on the equity curve at every close, starting from the initial
  balance; depth in % of the peak; start = the peak, recovery = first close back at the peak.
- Sharpe and Sortino use DAILY returns (equity at each UTC day's last close; the first day
  against the initial balance), annualised with sqrt(365); the annual risk-free rate is turned
  into a daily one by compounding. Sortino's downside deviation is the root mean square of the
  negative excess returns over all days.
- Calmar = annualised return / max drawdown depth.
- A metric that is undefined (no loss for a profit factor, flat equity for Sharpe, no trades for
  a win rate) is None, never a misleading 0.
- A figure that is defined but meaningless is None too, with its reason in `unavailable`
  (metric -> reason): an annualised return (and Calmar) over less than MIN_ANNUALISED_DAYS
  (a 1-day gain of 1 % compounds to +3,678 % a year), Sharpe and Sortino from fewer than
  MIN_DAILY_RETURNS daily returns (a 1-day backtest gave Sharpe -278). The functions below
  still compute the raw figures for any span.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

DAY_MS = 86_400_000
YEAR_DAYS = 365
MIN_ANNUALISED_DAYS = 30
MIN_DAILY_RETURNS = 30
SPAN_TOO_SHORT = "span too short"
TOO_FEW_DAYS = f"fewer than {MIN_DAILY_RETURNS} daily returns"


def iso_time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def period_days(time: np.ndarray) -> float:
    """First candle's open to last candle's close, in days (candle length = median spacing)."""
    if len(time) < 2:
        return 0.0
    bar = float(np.median(np.diff(time[:1001])))  # the first candles tell the timeframe
    return (float(time[-1] - time[0]) + bar) / DAY_MS


def total_return_pct(initial: float, final: float) -> float:
    return (final / initial - 1.0) * 100.0


def annualised_return_pct(initial: float, final: float, days: float) -> float | None:
    if days <= 0 or final <= 0:
        return None
    return ((final / initial) ** (YEAR_DAYS / days) - 1.0) * 100.0


def max_drawdown(time: np.ndarray, equity: np.ndarray, initial: float) -> dict:
    """Deepest fall from a peak: depth %, peak (start), trough, recovery times, duration in days."""
    curve = np.concatenate(([initial], equity))
    peaks = np.maximum.accumulate(curve)
    trough = int(np.argmin(curve / peaks))  # deepest fall relative to its peak
    drawdown_at_trough = 1.0 - curve[trough] / peaks[trough]
    if drawdown_at_trough <= 0:
        return {
            "max_drawdown_pct": 0.0,
            "drawdown_start": None,
            "drawdown_trough": None,
            "drawdown_recovery": None,
            "drawdown_duration_days": None,
        }
    peak_value = peaks[trough]
    start = int(np.flatnonzero(curve[: trough + 1] == peak_value)[-1])
    back = np.flatnonzero(curve[trough:] >= peak_value)
    recovery = trough + int(back[0]) if back.size else None
    times = np.concatenate(([time[0]], time))  # the initial balance stands at the first candle
    end_ms = times[recovery] if recovery is not None else times[-1]
    return {
        "max_drawdown_pct": float(drawdown_at_trough * 100.0),
        "drawdown_start": iso_time(times[start]),
        "drawdown_trough": iso_time(times[trough]),
        "drawdown_recovery": iso_time(times[recovery]) if recovery is not None else None,
        "drawdown_duration_days": float((end_ms - times[start]) / DAY_MS),
    }


def daily_returns(time: np.ndarray, equity: np.ndarray, initial: float) -> np.ndarray:
    """Return of each UTC day: its last close against the previous day's (or the initial balance)."""
    last_of_day = _last_of_day(time)
    closes = np.concatenate(([initial], equity[last_of_day]))
    return closes[1:] / closes[:-1] - 1.0


def _daily_risk_free(risk_free_rate: float) -> float:
    return (1.0 + risk_free_rate) ** (1.0 / YEAR_DAYS) - 1.0


def sharpe_ratio(daily: np.ndarray, risk_free_rate: float = 0.0) -> float | None:
    if len(daily) < 2:
        return None
    excess = daily - _daily_risk_free(risk_free_rate)
    deviation = float(np.std(excess, ddof=1))
    if deviation < 1e-15:
        return None
    return float(np.mean(excess)) / deviation * math.sqrt(YEAR_DAYS)


def sortino_ratio(daily: np.ndarray, risk_free_rate: float = 0.0) -> float | None:
    if len(daily) < 2:
        return None
    excess = daily - _daily_risk_free(risk_free_rate)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside < 1e-15:
        return None
    return float(np.mean(excess)) / downside * math.sqrt(YEAR_DAYS)


def calmar_ratio(annualised_pct: float | None, max_drawdown_pct: float) -> float | None:
    if annualised_pct is None or max_drawdown_pct <= 0:
        return None
    return annualised_pct / max_drawdown_pct


def _last_of_day(time: np.ndarray) -> np.ndarray:
    """Index of the last candle of each UTC day that has candles (binary search per day, so
    a million candles cost a few hundred look-ups)."""
    day_ends = np.arange(time[0] // DAY_MS + 1, time[-1] // DAY_MS + 1) * DAY_MS
    last = np.searchsorted(time, day_ends, side="left") - 1
    return np.unique(np.append(last, len(time) - 1))


def monthly_returns(time: np.ndarray, equity: np.ndarray, initial: float) -> list[dict]:
    """Each calendar month (UTC): its last close against the equity at the month's start."""
    days = _last_of_day(time)  # a month ends at the end of one of its days: fewer dates to convert
    time, equity = time[days], equity[days]
    month = time.astype("datetime64[ms]").astype("datetime64[M]")
    last_of_month = np.flatnonzero(np.append(month[1:] != month[:-1], True))
    closes = np.concatenate(([initial], equity[last_of_month]))
    return [
        {"month": str(month[index]), "return_pct": float((closes[k + 1] / closes[k] - 1.0) * 100.0)}
        for k, index in enumerate(last_of_month)
    ]


PERIODS = {"day": "datetime64[D]", "week": "datetime64[W]", "month": "datetime64[M]"}


def _period_keys(time: np.ndarray, by: str) -> np.ndarray:
    """Each time's UTC period as a number: its day, its week's Monday (as a day) or its month."""
    days = np.asarray(time, dtype=np.int64) // DAY_MS
    if by == "week":  # day 0 (1970-01-01) was a Thursday: Monday is 3 days before it
        return days - (days + 3) % 7
    if by == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return days


def period_labels(time: np.ndarray, by: str) -> np.ndarray:
    """The UTC calendar period of each time (ms): day "2025-01-31", week (its Monday)
    "2025-01-27", month "2025-01"."""
    keys = _period_keys(time, by)
    unit = "datetime64[M]" if by == "month" else "datetime64[D]"
    return keys.astype(unit).astype(str)


def last_of_period(time: np.ndarray, by: str) -> tuple[np.ndarray, np.ndarray]:
    """(index of the last point of each period that has points, that period's label); `time`
    sorted (ms). Only the chosen points are turned into labels (a year of hours is 8,760)."""
    if by not in PERIODS:
        raise ValueError(f"period {by!r}: use one of {', '.join(PERIODS)}")
    if len(time) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str)
    keys = _period_keys(time, by)
    last = np.flatnonzero(np.append(keys[1:] != keys[:-1], True))
    return last, period_labels(np.asarray(time, dtype=np.int64)[last], by)


def running_drawdown(equity: np.ndarray, initial: float) -> tuple[np.ndarray, np.ndarray]:
    """(running peak, drawdown in % of that peak) at each point, the peak starting from the
    initial balance, as max_drawdown measures it."""
    peaks = np.maximum.accumulate(np.concatenate(([initial], equity)))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peaks > 0, (1.0 - equity / peaks) * 100.0, 0.0)
    return peaks, drawdown


def sharpe_if_meaningful(daily: np.ndarray, risk_free_rate: float = 0.0) -> tuple[float | None, str | None]:
    """Sharpe of daily returns, or None with the reason when there are too few days (as a
    backtest's metrics say)."""
    if len(daily) < MIN_DAILY_RETURNS:
        return None, TOO_FEW_DAYS
    return _number(sharpe_ratio(daily, risk_free_rate)), None


def trade_stats(pnl: np.ndarray, holding_ms: np.ndarray) -> dict:
    """Stats of closed trades from their net P&L (fees included) and holding times."""
    pnl = np.asarray(pnl, dtype=np.float64)
    count = len(pnl)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_loss = float(-losses.sum())
    return {
        "trades": count,
        "wins": int(len(wins)),
        "losses": int(len(losses)),
        "net_pnl": float(pnl.sum()),
        "win_rate_pct": float(len(wins) / count * 100.0) if count else None,
        "profit_factor": float(wins.sum()) / gross_loss if len(losses) and gross_loss > 0 else None,
        "expectancy": float(pnl.mean()) if count else None,
        "average_win": float(wins.mean()) if len(wins) else None,
        "average_loss": float(losses.mean()) if len(losses) else None,
        "largest_win": float(wins.max()) if len(wins) else None,
        "largest_loss": float(losses.min()) if len(losses) else None,
        "average_holding_seconds": float(np.mean(holding_ms) / 1000.0) if count else None,
    }


def exposure_pct(time: np.ndarray, entry_ms: np.ndarray, exit_ms: np.ndarray) -> float:
    """Share of candles (of the whole grid) with at least one position open at their close."""
    if len(time) == 0:
        return 0.0
    change = np.zeros(len(time) + 1, dtype=np.int64)
    np.add.at(change, np.searchsorted(time, entry_ms, side="left"), 1)
    np.add.at(change, np.searchsorted(time, exit_ms, side="left"), -1)
    held = np.cumsum(change[:-1]) > 0
    return float(held.mean() * 100.0)


def round_trips(side: list[str], quantity: list[float], price: list[float], fee: list[float]) -> list[dict]:
    """Match the fills of one market first in, first out into round trips.

    A fill may close part of an open lot or several lots, and a sell larger than the long
    position opens a short with the rest. Fees are shared pro rata to quantity. Returns one
    dict per matched piece: side, quantity, entry/exit price, fees, pnl (net) and the fill
    indices that opened and closed it.
    """
    lots: list[list] = []  # [direction, quantity left, price, fee per unit, fill index]
    matched = []
    for index, (name, amount, at, paid) in enumerate(zip(side, quantity, price, fee)):
        direction = 1 if name == "buy" else -1
        fee_per_unit = paid / amount if amount else 0.0
        left = amount
        while left > 1e-15 and lots and lots[0][0] != direction:
            lot = lots[0]
            take = min(lot[1], left)
            fees = take * (lot[3] + fee_per_unit)
            matched.append(
                {
                    "side": "long" if lot[0] > 0 else "short",
                    "quantity": take,
                    "entry_price": lot[2],
                    "exit_price": at,
                    "fees": fees,
                    "pnl": lot[0] * take * (at - lot[2]) - fees,
                    "entry_fill": lot[4],
                    "exit_fill": index,
                }
            )
            lot[1] -= take
            left -= take
            if lot[1] <= 1e-15:
                lots.pop(0)
        if left > 1e-15:
            lots.append([direction, left, at, fee_per_unit, index])
    return matched


def _grouped_stats(table: dict, names: list[str]) -> tuple[dict, dict]:
    holding = table["exit_time"] - table["entry_time"]
    per_market = {
        name: trade_stats(table["pnl"][table["market"] == index], holding[table["market"] == index])
        for index, name in enumerate(names)
        if (table["market"] == index).any()
    }
    per_side = {
        label: trade_stats(table["pnl"][table["side"] == sign], holding[table["side"] == sign])
        for sign, label in ((1, "long"), (-1, "short"))
        if (table["side"] == sign).any()
    }
    return per_market, per_side


def _unavailable(days: float, daily_returns: int) -> dict[str, str]:
    """The figures that would mislead on so little data, each with its reason."""
    reasons = {}
    if days < MIN_ANNUALISED_DAYS:
        reasons.update(annualised_return_pct=SPAN_TOO_SHORT, calmar=SPAN_TOO_SHORT)
    if daily_returns < MIN_DAILY_RETURNS:
        reasons.update(sharpe=TOO_FEW_DAYS, sortino=TOO_FEW_DAYS)
    return reasons


def backtest_metrics(result, *, risk_free_rate: float = 0.0) -> dict:
    """Every metric of a BacktestResult (apps.engine.backtest), JSON-serialisable."""
    time, equity, initial = result.time, result.equity, result.initial_balance
    final = float(equity[-1])
    days = period_days(time)
    annualised = annualised_return_pct(initial, final, days)
    drawdown = max_drawdown(time, equity, initial)
    daily = daily_returns(time, equity, initial)
    table = result.trade_table
    entry_ms = np.concatenate((table["entry_time"], [p.entry_time for p in result.open_positions])).astype(np.int64)
    exit_ms = np.concatenate((table["exit_time"], [time[-1] + 1] * len(result.open_positions))).astype(np.int64)
    per_market, per_side = _grouped_stats(table, result.markets)
    unavailable = _unavailable(days, len(daily))
    if "annualised_return_pct" in unavailable:
        annualised = None
    sharpe = None if "sharpe" in unavailable else sharpe_ratio(daily, risk_free_rate)
    sortino = None if "sortino" in unavailable else sortino_ratio(daily, risk_free_rate)
    metrics = {
        "start": iso_time(time[0]),
        "end": iso_time(time[-1]),
        "days": days,
        "initial_balance": float(initial),
        "final_equity": final,
        "total_return_pct": total_return_pct(initial, final),
        "annualised_return_pct": _number(annualised),
        **drawdown,
        "sharpe": _number(sharpe),
        "sortino": _number(sortino),
        "calmar": _number(calmar_ratio(annualised, drawdown["max_drawdown_pct"])),
        "unavailable": unavailable,
        "risk_free_rate": float(risk_free_rate),
        **trade_stats(table["pnl"], table["exit_time"] - table["entry_time"]),
        "fees": float(table["fees"].sum()),
        "exposure_pct": exposure_pct(time, entry_ms, exit_ms),
        "open_positions": len(result.open_positions),
        "skipped_orders": result.skipped_counts,
        "monthly_returns": monthly_returns(time, equity, initial),
        "per_market": per_market,
        "per_side": per_side,
    }
    return metrics


def equity_downsampled(time: np.ndarray, equity: np.ndarray, points: int) -> list[list]:
    """[[ms, equity], ...] with at most about `points` pairs: the last of each bucket, plus the
    lowest point so that the deepest drawdown survives."""
    if len(time) <= points:
        keep = np.arange(len(time))
    else:
        keep = np.unique(np.concatenate((np.linspace(0, len(time) - 1, points).astype(np.int64), [int(np.argmin(equity))])))
    return [[int(t), round(float(e), 8)] for t, e in zip(time[keep], equity[keep])]
