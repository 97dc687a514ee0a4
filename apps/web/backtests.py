"""The backtests pages' reads: the runs and jobs a user may see, the launch form (a strategy's
params as form fields from its param schema; the values are checked by the one launch
validation, apps.strategies.backtests.jobs), one run's report and two runs side by side."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from apps.engine.strategies.registry import strategy_schemas
from apps.exchanges.selectors import account_scoped
from apps.markets.models import Market
from apps.markets.timeframes import TIMEFRAME_CHOICES
from apps.strategies.backtests.jobs import DEFAULTS, MONEY_FIELDS
from apps.strategies.backtests.selectors import backtest_jobs_visible_to, backtest_runs_visible_to
from apps.strategies.models import BacktestJob, BacktestRun, Strategy

RUNS_PAGE = 100
JOBS_SHOWN = 10
MONEY_LABELS = {
    "initial_balance": ("Initial balance", "quote currency, e.g. 10000"),
    "fee_pct": ("Fee %", "of each order's value, e.g. 0.1"),
    "slippage_bps": ("Slippage (bps)", "basis points of the price, e.g. 5"),
    "stop_loss_pct": ("Stop-loss %", "below the entry; blank for none"),
    "take_profit_pct": ("Take-profit %", "above the entry; blank for none"),
    "trailing_stop_pct": ("Trailing stop %", "below the high since entry; blank for none"),
}
# What a comparison lines up, in this order: (metric, label, better when higher?)
COMPARED = (
    ("total_return_pct", "Total return %", True),
    ("annualised_return_pct", "Annualised return %", True),
    ("max_drawdown_pct", "Max drawdown %", False),
    ("sharpe", "Sharpe", True),
    ("sortino", "Sortino", True),
    ("calmar", "Calmar", True),
    ("trades", "Trades", None),
    ("win_rate_pct", "Win rate %", True),
    ("profit_factor", "Profit factor", True),
    ("expectancy", "Expectancy", True),
    ("fees", "Fees", False),
    ("exposure_pct", "Exposure %", None),
    ("final_equity", "Final equity", True),
)


def runs_visible(*, user) -> QuerySet[BacktestRun]:
    return backtest_runs_visible_to(user=user).filter(sweep_id__isnull=True).select_related("strategy")[:RUNS_PAGE]


def jobs_recent(*, user) -> list[BacktestJob]:
    return list(backtest_jobs_visible_to(user=user)[:JOBS_SHOWN])


def run_for(*, user, run_id: int) -> BacktestRun | None:
    return backtest_runs_visible_to(user=user).filter(pk=run_id).first()


# --- The launch form --------------------------------------------------------------------------


@dataclass
class ParamField:
    name: str  # the form field's name: p_<kind>_<param>
    param: str
    label: str
    kind: str  # input type: number, select
    default: object
    help: str
    step: str = "any"
    min: object = None
    max: object = None
    choices: list | None = None
    value: object = None
    errors: list | None = None


def param_fields(kind: str, schema: dict, values: dict, errors: dict) -> list[ParamField]:
    """The kind's params as form fields, from its schema (type, range, choices, help)."""
    rows = []
    for name, spec in schema["params"].items():
        field_name = f"p_{kind}_{name}"
        row = ParamField(
            name=field_name,
            param=name,
            label=name.replace("_", " "),
            kind="number",
            default=spec["default"],
            help=spec["help"],
            min=spec["min"],
            max=spec["max"],
            value=values.get(field_name, ""),
            errors=errors.get(f"params.{name}") if values.get("strategy") == kind else None,
        )
        if spec["type"] == "bool":
            row.kind, row.choices = (
                "select",
                [("", f"default ({'yes' if spec['default'] else 'no'})"), ("true", "yes"), ("false", "no")],
            )
        elif spec["choices"]:
            row.kind, row.choices = "select", [("", f"default ({spec['default']})"), *((str(c), str(c)) for c in spec["choices"])]
        elif spec["type"] == "int":
            row.step = "1"
        elif spec["type"] == "str":
            row.kind = "text"
        rows.append(row)
    return rows


def launch_form(*, user, values: dict | None = None, errors: dict | None = None) -> dict:
    """Everything the launch form shows, with the trader's last values and each field's errors."""
    values, errors = values or {}, errors or {}
    schemas = strategy_schemas()
    chosen = values.get("strategy") or next(iter(sorted(schemas)))
    configured = account_scoped(Strategy.objects.select_related("account").order_by("name"), user=user)
    return {
        "values": {**DEFAULTS, **values, "strategy": chosen},
        "configured_chosen": chosen.isdigit(),
        "errors": errors,
        "general_errors": [m for name, msgs in errors.items() if name.startswith("__") for m in msgs],
        "kinds": [
            {"name": kind, "description": schema["description"], "fields": param_fields(kind, schema, values, errors)}
            for kind, schema in sorted(schemas.items())
        ],
        "configured": configured,
        "symbols": sorted(set(Market.objects.filter(active=True).values_list("symbol", flat=True))),
        "chosen_symbols": values.get("symbols") or [],
        "timeframes": [value for value, _ in TIMEFRAME_CHOICES],
        "money": [
            {
                "name": name,
                "label": MONEY_LABELS[name][0],
                "help": MONEY_LABELS[name][1],
                "value": values.get(name, DEFAULTS.get(name, "")),
            }
            for name in MONEY_FIELDS
        ],
    }


def launch_values(post) -> dict:
    """The POSTed form as the launch validation's values (the chosen kind's params only)."""
    strategy = post.get("strategy", "").strip()
    values = {name: post.get(name, "").strip() for name in ("timeframe", "start", "end", *MONEY_FIELDS)}
    values = {name: value for name, value in values.items() if value != ""}
    values["strategy"] = strategy
    values["symbols"] = [s for s in post.getlist("symbols") if s.strip()]
    if not strategy.isdigit():
        prefix = f"p_{strategy}_"
        values["params"] = {name[len(prefix) :]: post[name] for name in post if name.startswith(prefix) and post[name] != ""}
    return values


def form_echo(post) -> dict:
    """What the trader typed, to show it again beside the errors."""
    echo = {name: post.get(name) for name in post if name not in ("csrfmiddlewaretoken", "symbols")}
    echo["symbols"] = post.getlist("symbols")
    return echo


# --- Reports ------------------------------------------------------------------------------------


def equity_series(run: BacktestRun, *, as_return: bool = False) -> list[dict]:
    """The stored curve for the chart: equity, or % return on the initial balance (to compare
    runs of different balances)."""
    initial = float(run.initial_balance) or 1.0
    return [
        {"time": int(ms // 1000), "value": (equity / initial - 1) * 100 if as_return else equity}
        for ms, equity in run.equity_curve
    ]


def comparison(a: BacktestRun, b: BacktestRun) -> list[dict]:
    """Each compared metric of both runs, and which one is better (None: neither or no order)."""
    rows = []
    for metric, label, higher_better in COMPARED:
        left, right = a.metrics.get(metric), b.metrics.get(metric)
        better = None
        if higher_better is not None and isinstance(left, (int, float)) and isinstance(right, (int, float)) and left != right:
            better = "a" if (left > right) == higher_better else "b"
        rows.append({"label": label, "a": _shown(left), "b": _shown(right), "better": better})
    return rows


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:,.2f}" if isinstance(value, float) else str(value)
