"""The performance page's reading of the one performance selector (apps.trading.performance):
the query (account or all, period window, grouping), the chart's series, the calendar of
daily P&L laid out in weeks and the monthly returns as a year x month table."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from apps.trading.performance import BY, PerformanceReport, curve_thinned, performance_for_user

WINDOWS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30), "all": None}
CHART_POINTS = 1500  # a chart is some 1,000 pixels wide
MONTHS = [calendar.month_abbr[number] for number in range(1, 13)]


@dataclass(frozen=True)
class PerformanceQuery:
    account_id: int | None  # None: all your accounts
    window: str  # day / week / month / all: how far back from now
    by: str  # day / week / month: how the P&L table groups

    def start(self, now: datetime | None = None) -> datetime | None:
        span = WINDOWS[self.window]
        return None if span is None else (now or timezone.now()) - span


def query_parse(params) -> PerformanceQuery:
    """The page's GET parameters; anything unknown falls back to the default (a page, not an API)."""
    account = params.get("account", "")
    window = params.get("period", "all")
    by = params.get("by", "day")
    return PerformanceQuery(
        account_id=int(account) if account.isdigit() and len(account) < 19 else None,
        window=window if window in WINDOWS else "all",
        by=by if by in BY else "day",
    )


def performance_page_read(*, user, query: PerformanceQuery) -> PerformanceReport:
    """An account outside the user's is answered as NotFound by the selector (the view's 404)."""
    return performance_for_user(user=user, account_id=query.account_id, start=query.start(), by=query.by)


def chart_series(report: PerformanceReport) -> dict:
    """The equity, peak and drawdown lines, thinned to CHART_POINTS (every peak and trough kept)."""
    points = curve_thinned(report.equity, limit=CHART_POINTS)

    def line(values):
        return [{"time": point.ms // 1000, "value": value} for point, value in zip(points, values, strict=True)]

    return {
        "equity": line([float(p.equity) for p in points]),
        "peak": line([float(p.peak) for p in points]),
        "drawdown": line([-p.drawdown_pct for p in points]),
    }


def daily_calendar(report: PerformanceReport) -> list[dict]:
    """Each month with daily P&L, newest first: {"month": "2025-02", "weeks": [[cell x 7]]};
    a cell is None outside the month, else {"day", "pnl" (None: no snapshot that day)}."""
    by_day = {row.period: row for row in report.daily}
    months = sorted({period[:7] for period in by_day}, reverse=True)
    shown = []
    for month in months:
        year, number = int(month[:4]), int(month[5:])
        weeks = []
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, number):
            weeks.append([_cell(day, by_day) if day.month == number else None for day in week])
        shown.append({"month": month, "title": f"{calendar.month_name[number]} {year}", "weeks": weeks})
    return shown


def _cell(day: date, by_day: dict) -> dict:
    row = by_day.get(day.isoformat())
    return {
        "day": day.day,
        "date": day.isoformat(),
        "pnl": row.pnl if row else None,
        "short": _short(row.pnl) if row else "",
        "return_pct": row.return_pct if row else None,
    }


def _short(pnl) -> str:
    """A day's P&L in a calendar cell: whole quote units, with the sign and arrow."""
    whole = round(pnl)
    if whole == 0:
        return "0"
    return f"▲ +{whole:,}" if whole > 0 else f"▼ −{-whole:,}"


def monthly_table(report: PerformanceReport) -> list[dict]:
    """One row per year, newest first: the 12 months' returns (None: no data) and the year's,
    compounded from its months."""
    years: dict[int, list] = {}
    for row in report.monthly:
        year, number = int(row.period[:4]), int(row.period[5:])
        years.setdefault(year, [None] * 12)[number - 1] = row.return_pct
    table = []
    for year in sorted(years, reverse=True):
        growth = 1.0
        for value in years[year]:
            if value is not None:
                growth *= 1 + value / 100
        table.append({"year": year, "months": years[year], "total_pct": (growth - 1) * 100})
    return table
