"""Finds the strategy modules in this package and registers their Strategy classes by name.

A class that breaks the contract in base.py is refused with a StrategyContractError naming
the class and what is wrong, so a broken strategy never reaches a backtest or live trading.
Classes whose name starts with "_" are shared bases and are not registered.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from apps.engine.strategies.base import InvalidParamsError, Param, Strategy, StrategyContractError

_NOT_STRATEGY_MODULES = {"base", "registry", "timeframes"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_registry: dict[str, type[Strategy]] | None = None


class UnknownStrategyError(LookupError):
    """No strategy has that name."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name = name
        super().__init__(f"unknown strategy {name!r}; known strategies: {', '.join(sorted(known))}")


def strategy_classes() -> dict[str, type[Strategy]]:
    """Every registered strategy class by name (discovered once, on first use)."""
    global _registry
    if _registry is None:
        _registry = strategy_discover(_strategy_modules())
    return dict(_registry)


def strategy_get(name: str) -> type[Strategy]:
    classes = strategy_classes()
    if name not in classes:
        raise UnknownStrategyError(name, classes)
    return classes[name]


def strategy_build(name: str, params: dict[str, Any] | None = None) -> Strategy:
    """A strategy with validated params (InvalidParamsError says which param is wrong)."""
    return strategy_get(name)(**(params or {}))


def strategy_schemas() -> dict[str, dict]:
    """Name -> description and params schema, for forms and the API."""
    return {
        name: {
            "description": cls.description,
            "params": {param.name: param.as_schema() for param in cls.params_schema},
        }
        for name, cls in sorted(strategy_classes().items())
    }


def strategy_discover(modules: Iterable[ModuleType]) -> dict[str, type[Strategy]]:
    registry: dict[str, type[Strategy]] = {}
    for module in modules:
        for cls in _strategy_classes_in(module):
            strategy_register(cls, registry=registry)
    return registry


def strategy_register(cls: type, *, registry: dict[str, type[Strategy]]) -> None:
    """Check `cls` against the contract and add it to `registry`, or raise StrategyContractError."""
    label = f"{cls.__module__}.{cls.__qualname__}"
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        raise StrategyContractError(f"{label} is not a Strategy subclass")
    name = _checked_name(cls, label)
    if name in registry:
        other = registry[name]
        raise StrategyContractError(f"{label}: name {name!r} is already used by {other.__module__}.{other.__qualname__}")
    _check_implemented(cls, label)
    _check_params_schema(cls, label)
    _check_warmup_period(cls, label)
    registry[name] = cls


def _strategy_modules() -> list[ModuleType]:
    package = importlib.import_module(__package__)
    return [
        importlib.import_module(f"{__package__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name not in _NOT_STRATEGY_MODULES
    ]


def _strategy_classes_in(module: ModuleType) -> list[type]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
        and not obj.__name__.startswith("_")
    ]


def _checked_name(cls: type[Strategy], label: str) -> str:
    name = cls.__dict__.get("name")
    if name is None:
        raise StrategyContractError(f'{label} has no `name` of its own (set e.g. name = "my_strategy")')
    if not isinstance(name, str) or not _NAME.match(name):
        raise StrategyContractError(
            f"{label}: name must be lowercase letters, digits and underscores, starting with a letter; got {name!r}"
        )
    return name


def _check_implemented(cls: type[Strategy], label: str) -> None:
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise StrategyContractError(f"{label} does not implement {', '.join(missing)}")


def _check_params_schema(cls: type[Strategy], label: str) -> None:
    schema = cls.params_schema
    if not isinstance(schema, tuple) or not all(isinstance(param, Param) for param in schema):
        raise StrategyContractError(f"{label}: params_schema must be a tuple of Param")
    names = [param.name for param in schema]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise StrategyContractError(f"{label}: params_schema repeats {', '.join(duplicates)}")
    for param in schema:
        try:
            if param.coerce(param.default) != param.default:
                raise ValueError(f"is a {type(param.default).__name__}, the schema says {param.type.__name__}")
        except ValueError as exc:
            raise StrategyContractError(f"{label}: default of {param.name!r} {exc}") from None
    errors = cls.cross_check({param.name: param.default for param in schema})
    if errors:
        raise StrategyContractError(f"{label}: the default params fail its own checks: {InvalidParamsError(errors)}")


def _check_warmup_period(cls: type[Strategy], label: str) -> None:
    try:
        warmup = cls().warmup_period
    except Exception as exc:  # a broken strategy must be refused with its reason, whatever it is
        raise StrategyContractError(f"{label} fails with its default params: {exc!r}") from exc
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise StrategyContractError(f"{label}: warmup_period must be a positive whole number of candles, got {warmup!r}")
