"""Metrics as a trader reads them. An undefined metric (None) shows as "—", never as 0; one
that the data is too short for shows as "n/a (reason)"."""

from __future__ import annotations

DASH = "—"


def _pct(value: float) -> str:
    return f"{value:+.2f} %"


def _plain_pct(value: float) -> str:
    return f"{value:.2f} %"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _count(value) -> str:
    return str(int(value))


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


SUMMARY_METRICS = (
    ("Total return", "total_return_pct", _pct),
    ("Annualised return", "annualised_return_pct", _pct),
    ("Max drawdown", "max_drawdown_pct", _plain_pct),
    ("Sharpe", "sharpe", _ratio),
    ("Sortino", "sortino", _ratio),
    ("Calmar", "calmar", _ratio),
    ("Trades", "trades", _count),
    ("Win rate", "win_rate_pct", _plain_pct),
    ("Profit factor", "profit_factor", _ratio),
    ("Expectancy / trade", "expectancy", _money),
    ("Net P&L", "net_pnl", _money),
    ("Fees paid", "fees", _money),
    ("Exposure", "exposure_pct", _plain_pct),
    ("Average holding", "average_holding_seconds", _duration),
    ("Final equity", "final_equity", _money),
)
FORMATTERS = {key: formatter for _, key, formatter in SUMMARY_METRICS}


def metric_text(metrics: dict | None, key: str) -> str:
    value = (metrics or {}).get(key)
    reason = ((metrics or {}).get("unavailable") or {}).get(key)
    if reason:
        return f"n/a ({reason})"
    if value is None:
        return DASH
    return FORMATTERS.get(key, _ratio)(value)


def summary_rows(metrics: dict | None) -> list[tuple[str, str]]:
    return [(label, metric_text(metrics, key)) for label, key, _ in SUMMARY_METRICS]


def table_text(headers: list[str], rows: list[list[str]]) -> str:
    """A plain text table, numbers right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append("  ".join(_cell(cell, w, i) for i, (cell, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def _cell(cell, width: int, index: int) -> str:
    return str(cell).ljust(width) if index == 0 else str(cell).rjust(width)
