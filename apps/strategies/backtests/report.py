"""report.html: one self-contained file (no CDN, no network): the vendored lightweight-charts
build is inlined for the candle and equity charts; the heatmap and trade list are plain HTML."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.template.loader import render_to_string

from apps.engine.metrics import equity_downsampled, iso_time
from apps.engine.strategies.base import Candles
from apps.engine.strategies.timeframes import candles_resample
from apps.strategies.backtests.formatting import DASH, summary_rows

CHART_JS = Path(settings.BASE_DIR) / "static" / "vendor" / "lightweight-charts" / "lightweight-charts.standalone.production.js"
MAX_CHART_CANDLES = 20_000  # per market; more are shown on a coarser timeframe
MAX_EQUITY_POINTS = 20_000
MAX_TRADE_ROWS = 2_000  # in the page; trades.csv has every one
DISPLAY_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "12h", "1d")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=1)
def chart_library() -> str:
    return CHART_JS.read_text(encoding="utf-8")


def report_render(*, run, plan, data, result) -> str:
    charts = {
        "markets": [_market_chart(symbol, market.candles, run.trades) for symbol, market in data.items()],
        "equity": _equity_chart(result),
    }
    title = f"Sweep {run.sweep_id}: best set (#{run.pk})" if run.sweep_id else f"Backtest #{run.pk}"
    context = {
        "run": run,
        "title": title,
        "plan": plan,
        "summary": summary_rows(run.metrics),
        "charts": charts,
        "chart_js": chart_library(),
        "heatmap": monthly_heatmap(run.metrics.get("monthly_returns") or []),
        "trades": _trade_table(run.trades),
        "trade_count": len(run.trades),
        "max_trades": MAX_TRADE_ROWS,
        "start": iso_time(result.time[0]),
        "end": iso_time(result.time[-1]),
        "dash": DASH,
        "per_market": sorted((run.metrics.get("per_market") or {}).items()),
    }
    return render_to_string("strategies/backtest_report.html", context)


def _display_candles(candles: Candles) -> Candles:
    """The candles at their own timeframe, or at the first coarser one that fits the chart."""
    if len(candles) <= MAX_CHART_CANDLES:
        return candles
    for timeframe in DISPLAY_TIMEFRAMES:
        try:
            coarser = candles_resample(candles, timeframe)
        except ValueError:
            continue
        if len(coarser) <= MAX_CHART_CANDLES:
            return coarser
    return candles_resample(candles, "1d")


def _market_chart(symbol: str, candles: Candles, trades: list[dict]) -> dict:
    shown = _display_candles(candles)
    seconds = (shown.time // 1000).astype(np.int64)
    rows = np.column_stack((seconds, shown.open, shown.high, shown.low, shown.close)).tolist()
    mine = [trade for trade in trades if trade["market"] == symbol]
    slot = _slotter(seconds)
    return {
        "symbol": symbol,
        "id": symbol.replace("/", "-"),
        "timeframe": shown.timeframe,
        "candles": [[int(r[0]), *r[1:]] for r in rows],
        "markers": _markers(mine, slot, seconds),
        "stop": _level_line(mine, "stop", slot, seconds),
        "target": _level_line(mine, "target", slot, seconds),
    }


def _slotter(seconds: np.ndarray):
    """Time (ms) -> index of the shown candle that holds it."""

    def slot(ms: int) -> int:
        return max(int(np.searchsorted(seconds, ms // 1000, side="right")) - 1, 0)

    return slot


def _markers(trades: list[dict], slot, seconds: np.ndarray) -> list[dict]:
    markers = []
    for trade in trades:
        long = trade["side"] == "long"
        markers.append(
            {
                "time": int(seconds[slot(trade["entry_ms"])]),
                "position": "belowBar" if long else "aboveBar",
                "color": "#1e88e5" if long else "#8e24aa",
                "shape": "arrowUp" if long else "arrowDown",
                "text": "Buy" if long else "Short",
            }
        )
        won = trade["pnl"] > 0
        markers.append(
            {
                "time": int(seconds[slot(trade["exit_ms"])]),
                "position": "aboveBar" if long else "belowBar",
                "color": "#2e7d32" if won else "#c62828",
                "shape": "circle",
                "text": f"{trade['pnl']:+.2f}",
            }
        )
    return sorted(markers, key=lambda marker: marker["time"])


def _level_line(trades: list[dict], key: str, slot, seconds: np.ndarray) -> list[dict]:
    """A stop (or target) line drawn from each entry to its exit. lightweight-charts joins line
    points across whitespace, so the segment leaving an exit point is made transparent instead
    (a point's colour paints the segment that starts at it)."""
    points: dict[int, dict] = {}
    for trade in trades:
        if trade[key] is None:
            continue
        entry, exit_ = slot(trade["entry_ms"]), slot(trade["exit_ms"])
        points[entry] = {"time": int(seconds[entry]), "value": trade[key]}
        if exit_ != entry:
            points[exit_] = {"time": int(seconds[exit_]), "value": trade[key], "color": "rgba(0,0,0,0)"}
    return [points[index] for index in sorted(points)]


def _equity_chart(result) -> dict:
    pairs = equity_downsampled(result.time, result.equity, MAX_EQUITY_POINTS)
    values = np.array([value for _, value in pairs])
    peak = np.maximum.accumulate(np.concatenate(([result.initial_balance], values)))[1:]
    drawdown = (values / peak - 1.0) * 100.0
    return {
        "equity": [[t // 1000, v] for t, v in pairs],
        "peak": [[t // 1000, float(p)] for (t, _), p in zip(pairs, peak)],
        "drawdown": [[t // 1000, round(float(d), 4)] for (t, _), d in zip(pairs, drawdown)],
    }


def monthly_heatmap(monthly: list[dict]) -> dict:
    """Rows per year, a cell per month (None where the backtest has no data), the year compounded."""
    by_year: dict[int, dict[int, float]] = {}
    for item in monthly:
        year, month = (int(part) for part in item["month"].split("-")[:2])
        by_year.setdefault(year, {})[month] = item["return_pct"]
    scale = max((abs(value) for months in by_year.values() for value in months.values()), default=0.0) or 1.0
    rows = []
    for year in sorted(by_year):
        months = by_year[year]
        cells = [_heat_cell(months.get(m), scale) for m in range(1, 13)]
        total = float(np.prod([1 + value / 100 for value in months.values()]) - 1) * 100
        rows.append({"year": year, "cells": cells, "total": _heat_cell(total, scale)})
    return {"months": MONTHS, "rows": rows}


def _heat_cell(value: float | None, scale: float) -> dict:
    if value is None:
        return {"text": "", "style": "", "title": "no data"}
    strength = min(abs(value) / scale, 1.0) * 0.75 + 0.1
    color = f"rgba(46,125,50,{strength:.2f})" if value >= 0 else f"rgba(198,40,40,{strength:.2f})"
    return {"text": f"{value:+.2f} %", "style": f"background:{color}", "title": f"{value:+.4f} %"}


def _trade_table(trades: list[dict]) -> list[dict]:
    def number(value, digits=6):
        return DASH if value is None else f"{value:,.{digits}g}" if digits > 2 else f"{value:,.2f}"

    return [
        {
            **trade,
            "entry": trade["entry_time"].replace("T", " ").replace("Z", ""),
            "exit": trade["exit_time"].replace("T", " ").replace("Z", ""),
            "entry_price_text": number(trade["entry_price"]),
            "exit_price_text": number(trade["exit_price"]),
            "quantity_text": number(trade["quantity"]),
            "pnl_text": number(trade["pnl"], 2),
            "fees_text": number(trade["fees"], 2),
            "return_text": DASH if trade["return_pct"] is None else f"{trade['return_pct']:+.2f} %",
            "stop_text": number(trade["stop"]),
            "target_text": number(trade["target"]),
            "won": trade["pnl"] > 0,
        }
        for trade in trades[:MAX_TRADE_ROWS]
    ]
