"""What a study optimises: the objective read from a backtest's metrics, and the search space
built from the strategy's params schema plus the protective exits."""

from __future__ import annotations

from dataclasses import dataclass

from apps.common.errors import Invalid
from apps.engine.strategies.base import Param
from apps.engine.strategies.registry import strategy_get

# Objective name -> (metric keys, directions). "multi" is a Pareto front of return and drawdown.
OBJECTIVES = {
    "sharpe": (("sharpe",), ("maximize",)),
    "sortino": (("sortino",), ("maximize",)),
    "calmar": (("calmar",), ("maximize",)),
    "profit_factor": (("profit_factor",), ("maximize",)),
    "return_over_drawdown": (("return_over_drawdown",), ("maximize",)),
    "multi": (("total_return_pct", "max_drawdown_pct"), ("maximize", "minimize")),
}
SAMPLERS = ("tpe", "random", "nsga2")
PRUNERS = ("none", "median")
EXITS = {"stop_loss": "stop_loss_pct", "take_profit": "take_profit_pct", "trailing_stop": "trailing_stop_pct"}
EXIT_BOUNDS = (0.05, 50.0)  # % of the entry price


def objective_values(objective: str, metrics: dict) -> tuple[tuple[float, ...] | None, str]:
    """The objective's values from a backtest's metrics, or (None, why it is undefined)."""
    keys, _ = OBJECTIVES[objective]
    values = []
    for key in keys:
        value = _return_over_drawdown(metrics) if key == "return_over_drawdown" else metrics.get(key)
        if value is None:
            reason = (metrics.get("unavailable") or {}).get(key) or ("no trades" if not metrics.get("trades") else "undefined")
            return None, f"{key} is n/a ({reason})"
        values.append(float(value))
    return tuple(values), ""


def _return_over_drawdown(metrics: dict) -> float | None:
    drawdown = metrics.get("max_drawdown_pct") or 0.0
    if not metrics.get("trades"):
        return None
    return metrics["total_return_pct"] / max(drawdown, 0.01)  # no drawdown at all: as good as 0.01 %


@dataclass(frozen=True)
class Dimension:
    """One searched name: a strategy param, or an exit (stop_loss/take_profit/trailing_stop in %)."""

    name: str
    kind: str  # int, float, categorical
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple | None = None

    def as_json(self) -> dict:
        return {key: value for key, value in vars(self).items() if value is not None and key != "name"} | {"name": self.name}


def space_build(kind: str, *, fixed: dict[str, str], ranges: list[str]) -> list[Dimension]:
    """Every param of the schema not fixed by --param (numbers within min..max, bools and
    choices as categories), narrowed or extended by --space name=low:high[:step] or name=a,b,c;
    exits are searched only when named in --space. Every bad item is reported at once."""
    schema = {param.name: param for param in strategy_get(kind).params_schema}
    errors: dict[str, list[str]] = {}
    dimensions = {
        name: dimension for name, param in schema.items() if name not in fixed and (dimension := _from_param(param)) is not None
    }
    for item in ranges:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not spec.strip():
            errors.setdefault("space", []).append(f"{item!r}: write it as name=low:high[:step] or name=a,b,c")
        elif name not in schema and name not in EXITS:
            errors.setdefault("space", []).append(
                f"{name!r} is neither a parameter of {kind} ({', '.join(schema)}) nor an exit ({', '.join(EXITS)})"
            )
        else:
            try:
                dimensions[name] = _from_spec(name, spec.strip(), schema.get(name))
            except ValueError as exc:
                errors.setdefault("space", []).append(f"{name}: {exc}")
    if not dimensions and not errors:
        errors["space"] = [f"nothing to search: every parameter of {kind} is fixed; free one or add --space"]
    if errors:
        raise Invalid.from_fields(errors)
    return list(dimensions.values())


def _from_param(param: Param) -> Dimension | None:
    if param.choices:
        return Dimension(param.name, "categorical", choices=tuple(param.choices))
    if param.type is bool:
        return Dimension(param.name, "categorical", choices=(False, True))
    if param.type in (int, float) and param.min is not None and param.max is not None:
        return Dimension(param.name, param.type.__name__, low=param.min, high=param.max)
    return None  # free text or unbounded: keeps its default unless --space says otherwise


def _from_spec(name: str, spec: str, param: Param | None) -> Dimension:
    kind = param.type.__name__ if param is not None and param.type in (int, float) else "float"
    if param is not None and param.type in (bool, str):
        return Dimension(name, "categorical", choices=tuple(param.coerce(value.strip()) for value in spec.split(",")))
    if "," in spec or ":" not in spec:
        values = [float(value) for value in spec.split(",")]
        choices = tuple(int(v) if kind == "int" else v for v in values)
        if param is not None:
            choices = tuple(param.coerce(value) for value in choices)
        return Dimension(name, "categorical", choices=choices)
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{spec!r} is not low:high or low:high:step")
    try:
        low, high, *step = (float(part) for part in parts)
    except ValueError:
        raise ValueError(f"{spec!r} is not low:high or low:high:step with numbers") from None
    if not low < high:
        raise ValueError(f"low ({low:g}) must be less than high ({high:g})")
    if param is not None:
        param.coerce(int(low) if kind == "int" else low), param.coerce(int(high) if kind == "int" else high)
    elif not (EXIT_BOUNDS[0] <= low and high <= EXIT_BOUNDS[1]):
        raise ValueError(f"must lie within {EXIT_BOUNDS[0]}..{EXIT_BOUNDS[1]} % of the entry price")
    return Dimension(name, kind, low=low, high=high, step=step[0] if step else None)


def dimension_from_json(data: dict) -> Dimension:
    return Dimension(**{**data, "choices": tuple(data["choices"]) if data.get("choices") is not None else None})


def trial_suggest(trial, dimensions: list[Dimension]) -> dict:
    """Optuna's suggestions for one trial, by name."""
    values = {}
    for d in dimensions:
        if d.kind == "categorical":
            values[d.name] = trial.suggest_categorical(d.name, list(d.choices))
        elif d.kind == "int":
            values[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high), step=int(d.step or 1))
        else:
            values[d.name] = trial.suggest_float(d.name, d.low, d.high, step=d.step)
    return values
