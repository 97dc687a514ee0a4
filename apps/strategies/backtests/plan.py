"""From what a trader typed to a checked backtest plan: strategy and params, markets, range,
engine config. Every refusal is a BacktestError with one line that says what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from apps.common.errors import Invalid
from apps.common.time import utc_datetime
from apps.engine.backtest import BacktestConfig
from apps.engine.fills import FeeSchedule, MarketRules
from apps.engine.sizing import FIXED_QUOTE, PERCENT_EQUITY, Sizing
from apps.engine.strategies.base import InvalidParamsError
from apps.engine.strategies.base import Strategy as EngineStrategy
from apps.engine.strategies.registry import UnknownStrategyError, strategy_build
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.markets.models import Market
from apps.strategies.backtests.selectors import BacktestError, market_by_symbol
from apps.strategies.models import Strategy
from apps.strategies.validation import PROTECTIVE_EXITS, strategy_settings_validate


@dataclass
class BacktestRequest:
    """A backtest as asked for (the CLI's options, already split into Python values)."""

    strategy: str  # an engine strategy kind, or the id of a configured Strategy
    symbols: list[str] = field(default_factory=list)
    timeframe: str | None = None
    start: str | None = None  # ISO date or datetime, UTC when no zone is given
    end: str | None = None  # exclusive
    balance: str = "10000"
    fee_pct: str = "0.1"  # % of notional, maker and taker
    slippage_bps: str = "0"
    params: list[str] = field(default_factory=list)  # "name=value"
    detail_timeframe: str | None = None
    exchange: str | None = None
    stop_loss_pct: str | None = None
    take_profit_pct: str | None = None
    trailing_stop_pct: str | None = None


@dataclass
class BacktestPlan:
    kind: str
    params: dict
    engine: EngineStrategy
    strategy: Strategy | None
    markets: list[Market]
    timeframe: str
    detail_timeframe: str | None
    start: datetime | None
    end: datetime | None
    config: BacktestConfig
    settings: dict  # the config as JSON, for the BacktestRun row

    @property
    def symbols(self) -> list[str]:
        return [market.symbol for market in self.markets]


def backtest_plan(request: BacktestRequest) -> BacktestPlan:
    row = _strategy_row(request.strategy)
    kind = row.kind if row else request.strategy
    params = {**(row.params if row else {}), **params_parse(request.params)}
    engine = engine_strategy_build(kind, params)
    timeframe = timeframe_check(request.timeframe or (row.timeframe if row else "1m"), "--timeframe")
    detail = _detail_timeframe(request.detail_timeframe, timeframe)
    start, end = time_parse(request.start, "--start"), time_parse(request.end, "--end")
    if start and end and start >= end:
        raise BacktestError(f"--start ({start:%Y-%m-%d %H:%M}) must be before --end ({end:%Y-%m-%d %H:%M})")
    symbols = request.symbols or ([m.symbol for m in row.markets.order_by("symbol")] if row else [])
    if not symbols:
        raise BacktestError("no market given: add --symbol (e.g. --symbol BTC/USDT), repeat it for several")
    markets = [
        market_by_symbol(symbol=symbol, exchange=request.exchange or (row.account.exchange.code if row else None))
        for symbol in dict.fromkeys(symbols)
    ]
    config, settings = _config(request, row, markets)
    return BacktestPlan(kind, engine.params, engine, row, markets, timeframe, detail, start, end, config, settings)


def _strategy_row(value: str) -> Strategy | None:
    if not value.isdigit():
        return None
    row = Strategy.objects.select_related("account__exchange").filter(pk=int(value)).first()
    if row is None:
        raise BacktestError(f"no configured strategy has id {value}")
    return row


def engine_strategy_build(kind: str, params: dict) -> EngineStrategy:
    try:
        return strategy_build(kind, params)
    except UnknownStrategyError as exc:
        raise BacktestError(str(exc)) from None
    except InvalidParamsError as exc:
        raise BacktestError(f"invalid params for {kind}: {exc}") from None


def params_parse(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BacktestError(f"--param {pair!r}: write it as name=value, e.g. --param period=14")
        params[name.strip()] = value.strip()
    return params


def timeframe_check(timeframe: str, option: str) -> str:
    if timeframe not in TIMEFRAME_SECONDS:
        raise BacktestError(f"{option} {timeframe!r} is not a timeframe; use one of {', '.join(TIMEFRAME_SECONDS)}")
    return timeframe


def _detail_timeframe(detail: str | None, timeframe: str) -> str | None:
    if not detail:
        return None
    timeframe_check(detail, "--detail-timeframe")
    if TIMEFRAME_SECONDS[timeframe] % TIMEFRAME_SECONDS[detail] or detail == timeframe:
        raise BacktestError(f"--detail-timeframe {detail} must be shorter than {timeframe} and divide it")
    return detail


def time_parse(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return utc_datetime(value)
    except ValueError:
        raise BacktestError(f"{option} {value!r} is not a date; use e.g. 2024-01-31 or 2024-01-31T12:00") from None


EXIT_OPTIONS = (("stop_loss_pct", "--stop-loss"), ("take_profit_pct", "--take-profit"), ("trailing_stop_pct", "--trailing-stop"))


def settings_checked(request: BacktestRequest, row: Strategy | None, markets: list[Market]) -> dict[str, Decimal | None]:
    """The money settings through the one validation of strategy settings. Each message names
    what the trader set: the flag typed, or the configured strategy's field (never a flag
    that was not passed)."""
    values = {"initial_balance": request.balance, "fee_pct": request.fee_pct, "slippage_bps": request.slippage_bps}
    subjects = {"initial_balance": "--balance", "fee_pct": "--fee", "slippage_bps": "--slippage"}
    for name, flag in EXIT_OPTIONS:
        typed = getattr(request, name)
        if typed not in (None, ""):
            values[name], subjects[name] = typed, flag
        elif row is not None and getattr(row, name) is not None:
            values[name] = getattr(row, name)
            subjects[name] = f"strategy #{row.pk}'s {PROTECTIVE_EXITS[name].label} (set in the admin)"
    if row is not None:
        values.update(allocation_type=row.allocation_type, allocation_value=row.allocation_value)
        subjects["allocation_value"] = f"strategy #{row.pk}'s allocation (set in the admin)"
    values = {name: value.strip().rstrip("%") if isinstance(value, str) else value for name, value in values.items()}
    try:
        return strategy_settings_validate(values, markets=markets if row is not None else (), subjects=subjects)
    except Invalid as exc:
        raise BacktestError(exc.message) from None


def _fraction(value: Decimal | None) -> float | None:
    """A percent setting (2 = 2 %) as the engine's fraction, or None when not set."""
    return None if value is None else float(value / 100)


def _config(request: BacktestRequest, row: Strategy | None, markets: list[Market]) -> tuple[BacktestConfig, dict]:
    checked = settings_checked(request, row, markets)
    balance, slippage = checked["initial_balance"], checked["slippage_bps"]
    fee = checked["fee_pct"] / 100
    stop, target, trailing = (_fraction(checked.get(name)) for name, _ in EXIT_OPTIONS)
    sizing = _sizing(row, len(markets))
    precision = {
        m.symbol: MarketRules(
            amount_step=float(m.amount_precision), price_tick=float(m.price_precision), min_notional=float(m.min_notional)
        )
        for m in markets
    }
    config = BacktestConfig(
        initial_balance=float(balance),
        fees=FeeSchedule(maker=float(fee), taker=float(fee), slippage_bps=float(slippage)),
        sizing=sizing,
        precision=precision,
        stop_loss_pct=stop,
        take_profit_pct=target,
        trailing_stop_pct=trailing,
    )
    settings = {
        "initial_balance": str(balance),
        "fee": str(fee),
        "slippage_bps": str(slippage),
        "sizing": {"mode": sizing.mode, "value": sizing.value},
        "stop_loss_pct": stop,
        "take_profit_pct": target,
        "trailing_stop_pct": trailing,
        "fill_at": config.fill_at,
        "precision": {s: vars(r) for s, r in precision.items()},
    }
    return config, settings


def _sizing(row: Strategy | None, market_count: int) -> Sizing:
    """A configured strategy sizes as it trades; otherwise each market gets an equal share of equity."""
    if row is None:
        return Sizing(PERCENT_EQUITY, 1.0 / market_count)
    if row.allocation_type == Strategy.Allocation.EQUITY_PCT:
        return Sizing(PERCENT_EQUITY, min(float(row.allocation_value) / 100, 1.0))
    return Sizing(FIXED_QUOTE, float(row.allocation_value))


def warmup_delta(plan: BacktestPlan) -> timedelta:
    return timedelta(seconds=TIMEFRAME_SECONDS[plan.timeframe] * plan.engine.warmup_period)
