"""Performance of accounts and strategies over a period: one code path for the performance page,
the API and the daily summary, measured by the backtest's own metric functions
(apps.engine.metrics: total return, max drawdown, Sharpe on daily returns, trade stats, exposure,
monthly returns), so a live account and a backtest are judged by one definition.

Definitions (each has a hand-computed test in tests/trading/test_performance.py):
- The equity curve is the accounts' PortfolioSnapshots in the period; the initial equity is the
  last snapshot at or before the start (else the first in the period). Several accounts are
  summed on the union of their snapshot times, each carried forward; before its first snapshot
  an account counts at its first equity (a new account is not a gain).
- A strategy has no snapshots of its own: its curve is its accounts' equity at the start plus
  the net P&L of its trades, added when each closes.
- A trade is a round trip of one account and market: from the fill that opens a position to
  the fill that leaves none (or dust), with the position's own rules (average entry, every fee
  subtracted, apps/trading/services/positions.py). It belongs to the strategy of its first
  order and to the period in which it closes.
- realized P&L = net P&L of the trades closed in the period; fees = every fee of the period's
  fills, in quote; unrealized P&L = the last snapshot's in the period (a strategy: its open
  trades at the position's last price).
- P&L by day / week / month: each UTC period's last equity minus the previous period's last
  (the first: minus the initial equity); weeks start on Monday.

Money is Decimal; the metrics (percentages, ratios) are floats from the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

import numpy as np
from django.db.models import BigIntegerField, F, Func, Window
from django.db.models.functions import RowNumber

from apps.common.errors import Invalid, NotFound
from apps.engine import metrics
from apps.exchanges.selectors import accounts_visible_to
from apps.strategies.models import Strategy
from apps.trading.models import Fill, PortfolioSnapshot, Position, position_is_open
from apps.trading.services.positions import fee_split

ZERO = Decimal(0)
BY = metrics.PERIODS


class EquityPoint(NamedTuple):  # a tuple: a year of hourly points is 8,760 of them, made at C speed
    ms: int  # the snapshot's time, ms since 1970 UTC
    equity: Decimal
    peak: Decimal
    drawdown_pct: float

    @property
    def time(self) -> datetime:
        return _moment(self.ms)


@dataclass(frozen=True)
class PeriodPnl:
    period: str  # "2025-01-31" (day), "2025-01-27" (the week's Monday), "2025-01" (month)
    pnl: Decimal
    return_pct: float | None
    equity: Decimal  # at the period's last point


@dataclass
class RoundTrip:
    account_id: int
    market_id: int
    symbol: str
    strategy_id: int | None
    entry_time: datetime
    exit_time: datetime | None = None  # None: still open
    pnl: Decimal = ZERO  # realized, net of every fee
    fees: Decimal = ZERO
    amount: Decimal = ZERO  # still held (open trades)
    average_entry: Decimal = ZERO


@dataclass(frozen=True)
class Attribution:
    """One strategy's or market's share of the period's closed trades."""

    key: int | None  # strategy id (None: operator / unknown) or market id
    name: str
    pnl: Decimal
    fees: Decimal
    trades: int
    wins: int
    losses: int
    win_rate_pct: float | None
    profit_factor: float | None


@dataclass
class PerformanceReport:
    account_ids: list[int]
    strategy_id: int | None
    start: datetime | None
    end: datetime | None
    by: str
    initial_equity: Decimal | None = None
    final_equity: Decimal | None = None
    total_pnl: Decimal = ZERO
    total_return_pct: float | None = None
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    trades: int = 0
    wins: int = 0
    losses: int = 0
    win_rate_pct: float | None = None
    profit_factor: float | None = None
    max_drawdown_pct: float | None = None
    drawdown_start: str | None = None
    drawdown_trough: str | None = None
    drawdown_recovery: str | None = None
    sharpe: float | None = None
    exposure_pct: float | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    equity: list[EquityPoint] = field(default_factory=list)
    pnl_by: list[PeriodPnl] = field(default_factory=list)
    daily: list[PeriodPnl] = field(default_factory=list)
    monthly: list[PeriodPnl] = field(default_factory=list)
    per_strategy: list[Attribution] = field(default_factory=list)
    per_market: list[Attribution] = field(default_factory=list)
    open_trades: int = 0


# --- The public reads --------------------------------------------------------------------------


def performance_for_user(
    *,
    user,
    account_id: int | None = None,
    strategy_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    by: str = "day",
) -> PerformanceReport:
    """One account's, one strategy's, or (neither given) all of the user's accounts' performance.
    An account or strategy outside the user's accounts is NotFound, as if it did not exist;
    a bad period or `by` is Invalid with every field at once."""
    period_check(start=start, end=end, by=by)
    visible = accounts_visible_to(user=user)
    if strategy_id is not None:
        strategy = Strategy.objects.filter(pk=strategy_id, account__in=visible.values("pk")).first()
        if strategy is None:
            raise NotFound(f"No strategy #{strategy_id} on your accounts.")
        if account_id is not None and account_id != strategy.account_id:
            raise NotFound(f"Strategy #{strategy_id} does not trade on account #{account_id}.")
        return performance_report(account_ids=[strategy.account_id], strategy_id=strategy_id, start=start, end=end, by=by)
    if account_id is not None:
        if not visible.filter(pk=account_id).exists():
            raise NotFound(f"No account #{account_id} among your accounts.")
        return performance_report(account_ids=[account_id], start=start, end=end, by=by)
    ids = list(visible.order_by("pk").values_list("pk", flat=True))
    return performance_report(account_ids=ids, start=start, end=end, by=by)


def performance_report(
    *,
    account_ids: Sequence[int],
    strategy_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    by: str = "day",
) -> PerformanceReport:
    """The performance of these accounts (or of one strategy on them) over [start, end).
    No access check: callers pass accounts the reader may see (the system for summaries)."""
    period_check(start=start, end=end, by=by)
    report = PerformanceReport(account_ids=list(account_ids), strategy_id=strategy_id, start=start, end=end, by=by)
    trips, fees_paid = _replay(account_ids, end)
    times, equity, initial, report.unrealized_pnl = _account_curve(account_ids, start, end)
    grid = times  # exposure is measured at the accounts' snapshots, a strategy's too
    if strategy_id is not None:
        trips = [t for t in trips if t.strategy_id == strategy_id]
        report.unrealized_pnl = _unrealized_of([t for t in trips if t.exit_time is None])
        initial = initial if initial is not None else ZERO
        times, equity = _strategy_curve(_closed_within(trips, start, end), initial)
    closed = _closed_within(trips, start, end)
    report.fees = sum(
        (fee for at, strategy, fee in fees_paid if _within(at, start, end) and strategy_id in (None, strategy)), ZERO
    )
    report.open_trades = sum(1 for t in trips if t.exit_time is None)
    _trade_figures(report, closed)
    report.per_strategy = attribution(closed, key=lambda t: t.strategy_id, names=_strategy_names(closed))
    report.per_market = attribution(closed, key=lambda t: t.market_id, names={t.market_id: t.symbol for t in closed})
    if grid.size:
        report.exposure_pct = _exposure(grid, trips)
    if times.size:
        _curve_figures(report, times, equity, initial)
    return report


def _closed_within(trips: list[RoundTrip], start, end) -> list[RoundTrip]:
    return [t for t in trips if t.exit_time is not None and _within(t.exit_time, start, end)]


def period_check(*, start: datetime | None, end: datetime | None, by: str) -> None:
    errors = {}
    if by not in BY:
        errors["by"] = f"{by!r} is not a period; use day, week or month"
    if start is not None and end is not None and start >= end:
        errors["start"] = f"the start ({start:%Y-%m-%d %H:%M}) must be before the end ({end:%Y-%m-%d %H:%M} UTC)"
    if errors:
        raise Invalid.from_fields(errors)


# --- Trades ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FillRow:
    """What fee_split reads of a fill."""

    price: Decimal
    fee: Decimal
    fee_currency: str


def round_trips(*, account_ids: Iterable[int], end: datetime | None = None) -> list[RoundTrip]:
    """Every round trip of these accounts from their first fill up to `end`, oldest first."""
    return _replay(account_ids, end)[0]


def _replay(account_ids, end) -> tuple[list[RoundTrip], list[tuple]]:
    """The round trips, and each fill's (time, strategy, fee in quote): one read of the fills."""
    fills = Fill.objects.filter(order__account_id__in=list(account_ids))
    if end is not None:
        fills = fills.filter(traded_at__lt=end)
    rows = fills.order_by("traded_at", "id").values_list(
        "order__account_id",
        "order__market_id",
        "order__market__symbol",
        "order__market__base",
        "order__market__quote",
        "order__market__amount_precision",
        "order__market__min_notional",
        "order__side",
        "order__strategy_id",
        "price",
        "amount",
        "fee",
        "fee_currency",
        "traded_at",
    )
    books: dict[tuple[int, int], _Book] = {}
    trips: list[RoundTrip] = []
    fees: list[tuple] = []
    for account_id, market_id, symbol, base, quote, step, min_notional, side, strategy_id, *fill in rows:
        book = books.get((account_id, market_id))
        if book is None:
            book = books[(account_id, market_id)] = _Book(account_id, market_id, symbol, base, quote, step, min_notional)
        trip, fee_quote = book.apply(side, strategy_id, *fill)
        fees.append((fill[-1], strategy_id, fee_quote))
        if trip is not None:
            trips.append(trip)
    return sorted(trips, key=lambda t: t.entry_time), fees


class _Book:
    """One account's position in one market, replayed fill by fill as positions.py keeps it."""

    def __init__(self, account_id, market_id, symbol, base, quote, step, min_notional):
        self.key = (account_id, market_id, symbol)
        self.base, self.quote, self.step, self.min_notional = base, quote, step, min_notional
        self.amount = self.average_entry = ZERO
        self.trip: RoundTrip | None = None

    def apply(self, side, strategy_id, price, amount, fee, fee_currency, traded_at) -> tuple[RoundTrip | None, Decimal]:
        """The fill's effect: (the round trip this fill opens, or None; its fee in quote)."""
        fee_quote, fee_base = fee_split(fill=_FillRow(price, fee, fee_currency), base=self.base, quote=self.quote)
        opened = None
        if side == "buy":
            if self.trip is None:
                account_id, market_id, symbol = self.key
                opened = self.trip = RoundTrip(account_id, market_id, symbol, strategy_id, traded_at)
            held = self.amount
            self.average_entry = (held * self.average_entry + amount * price) / (held + amount)
            self.amount = held + amount - fee_base
        else:
            closing = min(amount, self.amount)
            if self.trip is not None:
                self.trip.pnl += (price - self.average_entry) * closing
            self.amount -= closing
            if self.amount <= 0:
                self.amount = self.average_entry = ZERO
        if self.trip is not None:
            self.trip.pnl -= fee_quote
            self.trip.fees += fee_quote
            self.trip.amount, self.trip.average_entry = self.amount, self.average_entry
            if side == "sell" and not position_is_open(
                amount=self.amount, value=self.amount * price, step=self.step, min_notional=self.min_notional
            ):
                self.trip.exit_time = traded_at
                self.trip = None
        return opened, fee_quote


def attribution(trips: list[RoundTrip], *, key, names: dict) -> list[Attribution]:
    """Closed trades grouped by key(trip): P&L, fees and the backtest's trade stats, best first."""
    groups: dict = defaultdict(list)
    for trip in trips:
        groups[key(trip)].append(trip)
    rows = []
    for group_key, group in groups.items():
        stats = _stats(group)
        rows.append(
            Attribution(
                key=group_key,
                name=names.get(group_key, "operator / no strategy"),
                pnl=sum((t.pnl for t in group), ZERO),
                fees=sum((t.fees for t in group), ZERO),
                trades=stats["trades"],
                wins=stats["wins"],
                losses=stats["losses"],
                win_rate_pct=stats["win_rate_pct"],
                profit_factor=stats["profit_factor"],
            )
        )
    return sorted(rows, key=lambda row: row.pnl, reverse=True)


def _stats(trips: list[RoundTrip]) -> dict:
    pnl = np.array([float(t.pnl) for t in trips], dtype=np.float64)
    held = np.array([(t.exit_time - t.entry_time).total_seconds() * 1000 for t in trips], dtype=np.float64)
    return metrics.trade_stats(pnl, held)


def _trade_figures(report: PerformanceReport, closed: list[RoundTrip]) -> None:
    stats = _stats(closed)
    report.trades, report.wins, report.losses = stats["trades"], stats["wins"], stats["losses"]
    report.win_rate_pct, report.profit_factor = stats["win_rate_pct"], stats["profit_factor"]
    report.realized_pnl = sum((t.pnl for t in closed), ZERO)


def _strategy_names(trips: list[RoundTrip]) -> dict:
    ids = {t.strategy_id for t in trips if t.strategy_id is not None}
    return dict(Strategy.objects.filter(pk__in=ids).values_list("pk", "name"))


def _unrealized_of(trips: list[RoundTrip]) -> Decimal:
    """Open trades at their position's last price (what the desk marks)."""
    if not trips:
        return ZERO
    marks = {
        (account_id, market_id): price
        for account_id, market_id, price in Position.objects.filter(
            account_id__in={t.account_id for t in trips}, market_id__in={t.market_id for t in trips}
        ).values_list("account_id", "market_id", "last_price")
    }
    total = ZERO
    for trip in trips:
        mark = marks.get((trip.account_id, trip.market_id))
        if mark is not None:
            total += (mark - trip.average_entry) * trip.amount
    return total


# --- The equity curve --------------------------------------------------------------------------


class EpochMs(Func):
    """A time column as milliseconds since 1970 (UTC), computed by the database: parsing
    a year of hourly snapshots into datetimes cost more than everything else here."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="CAST(ROUND(EXTRACT(EPOCH FROM %(expressions)s) * 1000) AS BIGINT)")

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000) AS INTEGER)"
        )

    def get_db_converters(self, connection):
        """None: both databases already answer an int (the CAST), and Django's int() of every
        value, row by row, was a tenth of the page's time for a year of hourly snapshots."""
        return []


def _account_curve(account_ids, start, end) -> tuple[np.ndarray, np.ndarray, Decimal | None, Decimal]:
    """(times in ms, equity as Decimals in an object array, initial equity, last unrealized P&L)
    of the accounts summed."""
    rows = list(
        _in_period(PortfolioSnapshot.objects.filter(account_id__in=list(account_ids)), "taken_at", start, end)
        .annotate(ms=EpochMs("taken_at"))
        .order_by("account_id", "taken_at", "id")
        .values_list("account_id", "ms", "equity", "unrealized_pnl")
    )
    before = _equity_before(account_ids, start) if start is not None else {}
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object), None, ZERO
    owner, ms, values, unrealized_at = (
        np.array(column, dtype=kind) for column, kind in zip(zip(*rows), (np.int64, np.int64, object, object), strict=True)
    )
    grid = np.unique(ms)
    total = np.full(len(grid), ZERO, dtype=object)
    initial, unrealized = ZERO, ZERO
    for account_id in np.unique(owner).tolist():
        mine = np.flatnonzero(owner == account_id)
        slot = np.maximum(np.searchsorted(ms[mine], grid, side="right") - 1, 0)  # before its first: its first
        total = total + values[mine][slot]
        initial += before.get(account_id, values[mine[0]])
        unrealized += unrealized_at[mine[-1]]
    return grid, total, initial, unrealized


def _equity_before(account_ids, start) -> dict[int, Decimal]:
    """Each account's equity at the start: its last snapshot before it (one query for all)."""
    newest_first = Window(RowNumber(), partition_by=[F("account_id")], order_by=[F("taken_at").desc(), F("id").desc()])
    rows = (
        PortfolioSnapshot.objects.filter(account_id__in=list(account_ids), taken_at__lte=start)
        .annotate(rank=newest_first)
        .filter(rank=1)
        .values_list("account_id", "equity")
    )
    return dict(rows)


def _strategy_curve(closed: list[RoundTrip], base: Decimal) -> tuple[np.ndarray, np.ndarray]:
    exits = sorted(closed, key=lambda t: t.exit_time)
    if not exits:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    times = np.array([_ms(t.exit_time) for t in exits], dtype=np.int64)
    pnl = np.array([t.pnl for t in exits], dtype=object)
    return times, base + np.cumsum(pnl)


def _curve_figures(report: PerformanceReport, times: np.ndarray, equity: np.ndarray, initial: Decimal) -> None:
    floats = equity.astype(np.float64)
    start_value = float(initial)
    report.initial_equity, report.final_equity = initial, equity[-1]
    report.total_pnl = equity[-1] - initial
    if start_value > 0:
        report.total_return_pct = metrics.total_return_pct(start_value, float(floats[-1]))
        drawdown = metrics.max_drawdown(times, floats, start_value)
        report.max_drawdown_pct = drawdown["max_drawdown_pct"]
        report.drawdown_start, report.drawdown_trough = drawdown["drawdown_start"], drawdown["drawdown_trough"]
        report.drawdown_recovery = drawdown["drawdown_recovery"]
        report.sharpe, reason = metrics.sharpe_if_meaningful(metrics.daily_returns(times, floats, start_value))
        if reason:
            report.unavailable["sharpe"] = reason
    peaks = np.maximum.accumulate(np.concatenate(([initial], equity)))[1:]
    _, drawdown_pct = metrics.running_drawdown(floats, start_value)
    report.equity = list(map(EquityPoint, times.tolist(), equity.tolist(), peaks.tolist(), drawdown_pct.tolist()))
    report.daily = period_pnl(times, equity, initial, "day")
    report.monthly = period_pnl(times, equity, initial, "month")
    known = {"day": report.daily, "month": report.monthly}  # the same rows: not computed twice
    report.pnl_by = known[report.by] if report.by in known else period_pnl(times, equity, initial, report.by)


def curve_thinned(points: list[EquityPoint], *, limit: int) -> list[EquityPoint]:
    """At most `limit` of the curve's points, for drawing it: every point when they fit, else,
    in each of limit // 5 equal runs of points, its first, lowest, highest, deepest below the
    peak and last, so the line keeps every peak and trough (a year of hourly snapshots is
    8,760 points on a chart some 1,000 pixels wide). The figures are computed on every point;
    only the drawing is thinned."""
    if len(points) <= limit:
        return points
    _, exact, _, drawdown = zip(*points, strict=True)  # the columns, transposed at C speed
    equity = np.array(exact, dtype=object).astype(np.float64)
    below = np.array(drawdown, dtype=np.float64)
    edges = np.linspace(0, len(points), max(1, limit // 5) + 1).astype(np.int64)
    keep = set()
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if hi > lo:
            run = slice(lo, hi)
            keep.update(
                (lo, hi - 1, lo + int(equity[run].argmin()), lo + int(equity[run].argmax()), lo + int(below[run].argmax()))
            )
    return [points[i] for i in sorted(keep)]


def period_pnl(times: np.ndarray, equity: np.ndarray, initial: Decimal, by: str) -> list[PeriodPnl]:
    """Each UTC period's last equity minus the previous period's last (the first: minus the
    initial equity), exact, with its return in %."""
    last, labels = metrics.last_of_period(times, by)
    closes = [initial, *equity[last]]
    return [
        PeriodPnl(
            period=str(label),
            pnl=closes[k + 1] - closes[k],
            return_pct=metrics.total_return_pct(float(closes[k]), float(closes[k + 1])) if closes[k] > 0 else None,
            equity=closes[k + 1],
        )
        for k, label in enumerate(labels)
    ]


def _exposure(times: np.ndarray, trips: list[RoundTrip]) -> float:
    """Share of the curve's points with at least one trade open (the backtest's exposure)."""
    entries = np.array([_ms(t.entry_time) for t in trips], dtype=np.int64)
    exits = np.array([_ms(t.exit_time) if t.exit_time else times[-1] + 1 for t in trips], dtype=np.int64)
    return metrics.exposure_pct(times, entries, exits)


# --- Small helpers -----------------------------------------------------------------------------


def _in_period(queryset, field_name: str, start, end):
    if start is not None:
        queryset = queryset.filter(**{f"{field_name}__gte": start})
    if end is not None:
        queryset = queryset.filter(**{f"{field_name}__lt": end})
    return queryset


def _within(moment: datetime, start, end) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
