"""The strategy contract, shared by the backtest and live evaluation (the same code trades).

A strategy is a class with a name, a params schema and a vectorised `signals(candles)` that
is computed once over a whole history. Signal i may use data up to and including candle i's
close, never later; the backtest fills it at candle i+1's open by default. Live evaluation
calls the same function on the trailing `warmup_period` window and takes the last bar.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


class StrategyContractError(Exception):
    """A strategy class that breaks the contract (raised at registration)."""


class InvalidParamsError(ValueError):
    """Params that do not fit the schema; `errors` maps param name -> message for a trader."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass(frozen=True)
class Param:
    name: str
    type: type  # int, float, bool or str
    default: Any
    min: float | None = None
    max: float | None = None
    help: str = ""
    choices: tuple | None = None

    def coerce(self, raw: Any) -> Any:
        """Turn raw input (a string from a form or the CLI, or a number) into a checked value."""
        try:
            if self.type is bool and isinstance(raw, str):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = raw.lower() in ("true", "1", "yes")
            elif self.type is int and isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            else:
                value = self.type(raw)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400)
            raise ValueError(f"must be a {self.type.__name__}, got {raw!r}") from None
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {self.min}, got {value}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {self.max}, got {value}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        return value

    def as_schema(self) -> dict:
        return {
            "type": self.type.__name__,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "help": self.help,
            "choices": list(self.choices) if self.choices else None,
        }


@dataclass
class Candles:
    """Columnar candles of one market and timeframe, oldest first. time = open time, ms UTC."""

    time: np.ndarray  # int64 milliseconds
    open: np.ndarray  # float64 ...
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe: str = "1m"
    # Higher timeframes a strategy asked for, keyed by timeframe (see Strategy.informative_timeframes).
    informative: dict[str, Candles] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time)

    def tail(self, count: int) -> Candles:
        return Candles(
            self.time[-count:],
            self.open[-count:],
            self.high[-count:],
            self.low[-count:],
            self.close[-count:],
            self.volume[-count:],
            self.timeframe,
            self.informative,
        )


@dataclass
class SignalArrays:
    """What a strategy wants at each candle's close. Boolean arrays have len(candles) items;
    price arrays hold absolute prices with NaN meaning "none"."""

    entry_long: np.ndarray
    exit_long: np.ndarray
    entry_short: np.ndarray
    exit_short: np.ndarray
    stop_loss: np.ndarray | None = None
    take_profit: np.ndarray | None = None
    size: np.ndarray | None = None  # fraction of the allocation in (0, 1]; NaN = full allocation
    # The indicator values behind the decisions, stored with live signals as their reason.
    indicators: dict[str, np.ndarray] = field(default_factory=dict)


class Strategy(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    params_schema: ClassVar[tuple[Param, ...]] = ()
    # How far (as a fraction of a column's largest magnitude) an indicator may differ after
    # warm-up when the history starts later (the recursive bias check): recursive averages
    # keep a trace of their seed, see strategies/_common.SEED_WEIGHT_TOLERANCE.
    recursive_tolerance: ClassVar[float] = 1e-3

    def __init__(self, **params: Any):
        self.params = self.validate_params(params)

    @classmethod
    def validate_params(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in, every value coerced and range-checked; unknown names refused."""
        schema = {param.name: param for param in cls.params_schema}
        errors = {name: "is not a parameter of this strategy" for name in raw if name not in schema}
        values = {}
        for name, param in schema.items():
            try:
                values[name] = param.coerce(raw[name]) if name in raw else param.default
            except ValueError as exc:
                errors[name] = str(exc)
        if not errors:
            errors.update(cls.cross_check(values))
        if errors:
            raise InvalidParamsError(errors)
        return values

    @classmethod
    def cross_check(cls, values: dict[str, Any]) -> dict[str, str]:
        """Rules between params (e.g. fast < slow); returns param name -> message."""
        return {}

    @property
    @abstractmethod
    def warmup_period(self) -> int:
        """Candles needed before the first valid signal (derived from the params)."""

    def informative_timeframes(self) -> tuple[str, ...]:
        """Higher timeframes this strategy reads; each is seen only once its candle has closed."""
        return ()

    @abstractmethod
    def signals(self, candles: Candles) -> SignalArrays:
        """Vectorised over the whole history; never looks ahead."""
