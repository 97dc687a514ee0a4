"""Run a backtest from stored candles, store it as a BacktestRun and write its files."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings as django_settings
from tqdm import tqdm

from apps.engine.backtest import BacktestInputError, BacktestResult, backtest
from apps.engine.metrics import equity_downsampled
from apps.engine.strategies.base import Candles, SignalArrays
from apps.engine.strategies.timeframes import candles_resample
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.selectors import candles_between
from apps.strategies.backtests.plan import BacktestPlan, BacktestRequest, backtest_plan, warmup_delta
from apps.strategies.backtests.selectors import BacktestError, candles_range
from apps.strategies.models import BacktestRun

PROGRESS_DELAY = 2.0  # seconds before a progress bar appears
EQUITY_POINTS_STORED = 2_000
ENGINE_DIR = Path(__file__).resolve().parents[2] / "engine"


@dataclass
class MarketData:
    """One market's candles for the run, its signals, and the warm-up candles cut off before them."""

    candles: Candles
    signals: SignalArrays
    detail: Candles | None


@dataclass
class BacktestOutcome:
    run: BacktestRun
    result: BacktestResult
    data: dict[str, MarketData]
    files: dict[str, Path]


def backtest_execute(
    request: BacktestRequest,
    *,
    output_dir: str | Path | None = None,
    progress: bool | None = None,
    owner=None,
    on_step: Callable[[int, str], None] | None = None,
) -> BacktestOutcome:
    """Plan, load, run, store and write report.html, trades.csv and metrics.json.

    progress: True shows a bar, False never; None shows one on a terminal once a run has taken
    longer than PROGRESS_DELAY seconds (short runs stay quiet). owner: the user who may open the report.
    on_step(percent, stage): told as the run goes (a job's progress bar)."""
    step = on_step or (lambda percent, stage: None)
    step(2, "planning")
    plan = backtest_plan(request)
    loaded = [0]

    def market_loaded():
        loaded[0] += 1
        bar.update()
        step(5 + 55 * loaded[0] // len(plan.markets), f"loaded {loaded[0]} of {len(plan.markets)} markets")

    with tqdm(
        total=len(plan.markets) + 2,
        desc="backtest",
        unit="step",
        delay=PROGRESS_DELAY,
        disable=None if progress is None else not progress,
        leave=False,
    ) as bar:
        data = market_data_load(plan, on_market=market_loaded)
        bar.set_description("simulating")
        step(65, "simulating")
        result = backtest_result(plan, data)
        bar.update()
        step(85, "storing the run")
        run = backtest_run_store(plan, data, result, owner=owner)
        folder = Path(output_dir) if output_dir else Path(django_settings.VAR_DIR) / "backtests" / str(run.pk)
        bar.set_description("writing the report")
        step(92, "writing the report")
        files = backtest_files_write(run=run, plan=plan, data=data, result=result, folder=folder)
        bar.update()
    run.report_path = str(files["report"].resolve())
    run.save(update_fields=["report_path", "updated_at"])
    return BacktestOutcome(run, result, data, files)


# --- Loading ---------------------------------------------------------------------------------


def market_data_load(plan: BacktestPlan, *, on_market=None) -> dict[str, MarketData]:
    data: dict[str, MarketData] = {}
    for market in plan.markets:
        data[market.symbol] = _market_data(plan, market)
        if on_market:
            on_market()
    return data


def _market_data(plan: BacktestPlan, market) -> MarketData:
    loaded_from = plan.start - warmup_delta(plan) if plan.start else None
    candles = candles_between(market=market, timeframe=plan.timeframe, start=loaded_from, end=plan.end)
    first = int(np.searchsorted(candles.time, _ms(plan.start))) if plan.start else 0
    if first >= len(candles):
        raise BacktestError(_no_candles_message(plan, market))
    signals = _signals(plan, candles, market.symbol)
    candles, signals = _cut(candles, first), _cut_signals(signals, first)
    detail = None
    if plan.detail_timeframe:
        end = datetime.fromtimestamp((int(candles.time[-1]) + TIMEFRAME_SECONDS[plan.timeframe] * 1000) / 1000, tz=UTC)
        start = datetime.fromtimestamp(int(candles.time[0]) / 1000, tz=UTC)
        detail = candles_between(market=market, timeframe=plan.detail_timeframe, start=start, end=end)
        if not len(detail):
            raise BacktestError(f"no {market.symbol} {plan.detail_timeframe} candles for --detail-timeframe in that range")
    return MarketData(candles, signals, detail)


def _no_candles_message(plan: BacktestPlan, market) -> str:
    stored = candles_range(market=market, timeframe=plan.timeframe)
    have = f"stored: {stored[0]:%Y-%m-%d %H:%M} to {stored[1]:%Y-%m-%d %H:%M} UTC" if stored else "none stored"
    span = f"{plan.start or 'the beginning'} to {plan.end or 'now'}"
    return f"no {market.symbol} {plan.timeframe} candles from {span} ({have})"


def _signals(plan: BacktestPlan, candles: Candles, symbol: str) -> SignalArrays:
    for timeframe in plan.engine.informative_timeframes():
        try:
            candles.informative[timeframe] = candles_resample(candles, timeframe)
        except ValueError as exc:
            raise BacktestError(f"{plan.kind} on {symbol}: {exc}") from None
    try:
        return plan.engine.signals(candles)
    except ValueError as exc:
        raise BacktestError(f"{plan.kind} on {symbol} {plan.timeframe}: {exc}") from None


def _cut(candles: Candles, first: int) -> Candles:
    return candles if first == 0 else candles_slice(candles, first, None)


def candles_slice(candles: Candles, lo: int, hi: int | None) -> Candles:
    return Candles(
        candles.time[lo:hi],
        candles.open[lo:hi],
        candles.high[lo:hi],
        candles.low[lo:hi],
        candles.close[lo:hi],
        candles.volume[lo:hi],
        candles.timeframe,
    )


def _cut_signals(signals: SignalArrays, first: int) -> SignalArrays:
    return signals if first == 0 else signals_slice(signals, first, None)


def signals_slice(signals: SignalArrays, lo: int, hi: int | None) -> SignalArrays:
    """The signals of candles lo..hi-1 (a strategy never looks ahead, so signals computed on a
    longer history and then cut are those of the cut candles with a full warm-up)."""

    def cut(values):
        return None if values is None else values[lo:hi]

    return SignalArrays(
        cut(signals.entry_long),
        cut(signals.exit_long),
        cut(signals.entry_short),
        cut(signals.exit_short),
        cut(signals.stop_loss),
        cut(signals.take_profit),
        cut(signals.size),
        {name: values[lo:hi] for name, values in signals.indicators.items()},
    )


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


# --- Running and storing ---------------------------------------------------------------------


def backtest_result(plan: BacktestPlan, data: dict[str, MarketData]) -> BacktestResult:
    detail = {symbol: d.detail for symbol, d in data.items() if d.detail is not None}
    try:
        return backtest(
            {s: d.candles for s, d in data.items()}, {s: d.signals for s, d in data.items()}, plan.config, detail=detail or None
        )
    except BacktestInputError as exc:
        raise BacktestError(str(exc)) from None


def data_hash(data: dict[str, Candles]) -> str:
    """sha256 over every candle array, markets in name order: the same data gives the same hash."""
    digest = hashlib.sha256()
    for symbol in sorted(data):
        candles = data[symbol]
        digest.update(f"{symbol}|{candles.timeframe}|".encode())
        for column in (candles.time, candles.open, candles.high, candles.low, candles.close, candles.volume):
            digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """git commit (when there is one) and a hash of the engine's sources (which also catches
    uncommitted changes to the engine)."""
    digest = hashlib.sha256()
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(ENGINE_DIR)).encode() + b"\0" + path.read_bytes())
    engine = f"engine:{digest.hexdigest()[:16]}"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ENGINE_DIR, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return engine
    return f"git:{commit} {engine}" if commit else engine


def trade_rows(plan: BacktestPlan, data: dict[str, MarketData], result: BacktestResult) -> list[dict]:
    """The closed trades as JSON-ready dicts, with the stop and target each one had at entry."""
    from apps.engine.metrics import iso_time

    rows = []
    for trade in result.trades:
        stop, target = _levels(plan, data[trade.market], trade)
        notional = trade.entry_price * trade.quantity
        rows.append(
            {
                "market": trade.market,
                "side": trade.side,
                "entry_time": iso_time(trade.entry_time),
                "entry_price": trade.entry_price,
                "exit_time": iso_time(trade.exit_time),
                "exit_price": trade.exit_price,
                "quantity": trade.quantity,
                "fees": trade.fees,
                "pnl": trade.pnl,
                "return_pct": trade.pnl / notional * 100 if notional else None,
                "exit_reason": trade.exit_reason,
                "stop": stop,
                "target": target,
                "entry_ms": trade.entry_time,
                "exit_ms": trade.exit_time,
            }
        )
    return rows


def _levels(plan: BacktestPlan, market: MarketData, trade) -> tuple[float | None, float | None]:
    """As the engine sets them: the strategy's own prices at the signal candle, else the config's %."""
    signal_bar = trade.entry_bar - 1 if plan.config.fill_at == "next_open" else trade.entry_bar
    sign = 1 if trade.side == "long" else -1

    def level(prices, pct, direction):
        value = float(prices[signal_bar]) if prices is not None and signal_bar >= 0 else float("nan")
        if np.isnan(value) and pct is not None:
            value = trade.entry_price * (1 + direction * sign * pct)
        return None if np.isnan(value) else value

    return (
        level(market.signals.stop_loss, plan.config.stop_loss_pct, -1),
        level(market.signals.take_profit, plan.config.take_profit_pct, 1),
    )


def backtest_run_store(plan: BacktestPlan, data: dict[str, MarketData], result: BacktestResult, **extra) -> BacktestRun:
    run = backtest_run_build(plan, data, result, **extra)
    run.save()
    return run


def backtest_run_build(plan: BacktestPlan, data: dict[str, MarketData], result: BacktestResult, **extra) -> BacktestRun:
    """The BacktestRun row of a result, not saved yet."""
    candles = {s: d.candles for s, d in data.items()}
    candles.update({f"{s}@detail": d.detail for s, d in data.items() if d.detail is not None})
    return BacktestRun(
        strategy=plan.strategy,
        kind=plan.kind,
        params=plan.params,
        symbols=plan.symbols,
        timeframe=plan.timeframe,
        detail_timeframe=plan.detail_timeframe or "",
        data_start=_moment(result.time[0]),
        data_end=_moment(result.time[-1]),
        candle_count=sum(len(d.candles) for d in data.values()),
        initial_balance=Decimal(plan.settings["initial_balance"]),
        settings=plan.settings,
        data_hash=data_hash(candles),
        code_version=code_version(),
        metrics=result.metrics or {},
        equity_curve=equity_downsampled(result.time, result.equity, EQUITY_POINTS_STORED),
        trades=trade_rows(plan, data, result),
        **extra,
    )


def _moment(ms) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


# --- Files -----------------------------------------------------------------------------------

TRADE_COLUMNS = (
    "market",
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "fees",
    "pnl",
    "return_pct",
    "exit_reason",
    "stop",
    "target",
)


def backtest_files_write(
    *,
    run: BacktestRun,
    plan: BacktestPlan,
    data: dict[str, MarketData],
    result: BacktestResult,
    folder: Path,
    extra: dict | None = None,
) -> dict[str, Path]:
    """report.html, trades.csv and metrics.json in `folder`; `extra` is added to metrics.json."""
    from apps.strategies.backtests.report import report_render

    folder.mkdir(parents=True, exist_ok=True)
    files = {"report": folder / "report.html", "trades": folder / "trades.csv", "metrics": folder / "metrics.json"}
    with files["trades"].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(run.trades)
    files["metrics"].write_text(json.dumps({**_metrics_document(run), **(extra or {})}, indent=2, allow_nan=False, default=str))
    files["report"].write_text(report_render(run=run, plan=plan, data=data, result=result), encoding="utf-8")
    return files


def _metrics_document(run: BacktestRun) -> dict:
    return {
        "backtest_run": run.pk,
        "strategy": run.kind,
        "params": run.params,
        "symbols": run.symbols,
        "timeframe": run.timeframe,
        "data_hash": run.data_hash,
        "code_version": run.code_version,
        "settings": run.settings,
        "metrics": run.metrics,
    }
