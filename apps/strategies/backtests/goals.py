"""Goals in a backtest run: `--goal kind=value` parsed by the one rule for goal targets (which
apps.goals.validation shares), the goal figures of the run, and the same run again with
goal-aware sizing on (catch-up enabled) so the cost of catching up is shown beside it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from apps.common.validation import NumberRule, numbers_check, raise_if_any
from apps.engine import goals as rules
from apps.engine.goal_backtest import GoalSizing, GoalTargets, goal_report, run_figures

TARGETS = {
    rules.MONTHLY_RETURN: NumberRule(
        "monthly return target", Decimal(0), Decimal(10), meaning="a fraction of the month's starting equity, e.g. 0.10 for 10 %"
    ),
    rules.MONTHLY_INCOME: NumberRule(
        "monthly income target",
        Decimal(0),
        Decimal("1e15"),
        meaning="realized profit per calendar month in quote currency, e.g. 4000",
    ),
    rules.PORTFOLIO_VALUE: NumberRule(
        "portfolio value target", Decimal(0), Decimal("1e15"), meaning="the equity to reach in quote currency, e.g. 1000000"
    ),
}


def goal_options_parse(pairs: list[str]) -> GoalTargets:
    """`--goal monthly_return=0.10 --goal portfolio_value=1000000` -> GoalTargets; every bad
    option reported at once (Invalid, field "goal")."""
    errors: list[str] = []
    values: dict[str, float] = {}
    for pair in pairs:
        kind, _, text = pair.partition("=")
        kind = kind.strip()
        if kind not in TARGETS or not text.strip():
            errors.append(f"{pair!r}: write kind=value with kind one of {', '.join(TARGETS)} (e.g. monthly_return=0.10)")
            continue
        parsed, found = numbers_check({kind: TARGETS[kind]}, {kind: text.strip()}, errors={})
        if found:
            errors.extend(message for messages in found.values() for message in messages)
        else:
            values[kind] = float(parsed[kind])
    raise_if_any({"goal": errors} if errors else {})
    return GoalTargets(**values)


def goal_comparison(*, targets: GoalTargets, result, rerun) -> dict:
    """The goal figures of `result` (sizing as set) and, side by side, of the same run with
    goal-aware sizing on: `rerun(entry_factor)` runs the same plan with that factor."""
    sized = rerun(GoalSizing(targets, catch_up=True))
    off, on = (run_figures(run.time, run.equity, run.initial_balance) for run in (result, sized))
    return {
        **_report(result, targets),
        "sizing": {"off": off.as_dict(), "on": on.as_dict()},
        "sized_report": _report(sized, targets),
    }


def _report(result, targets: GoalTargets) -> dict:
    return goal_report(
        time_ms=result.time,
        equity=result.equity,
        initial=result.initial_balance,
        targets=targets,
        trade_exit_ms=result.trade_table["exit_time"],
        trade_pnl=result.trade_table["pnl"],
    )


def config_with_factor(config, entry_factor):
    return replace(config, entry_factor=entry_factor, compute_metrics=False)


def goal_rows(goals: dict) -> list[list[str]]:
    """The goal figures as a table a trader reads (the command's output)."""
    rows = []
    if "monthly_return" in goals:
        figures = goals["monthly_return"]
        rows.append([f"Months >= {figures['target']:.2%} return", _share(figures["share_of_months"])])
        rows.append([f"P(month >= {figures['target']:.2%}), bootstrap", _share(figures["probability"])])
    if "monthly_income" in goals:
        figures = goals["monthly_income"]
        rows.append([f"Months with income >= {figures['target']:,.2f}", _share(figures["share_of_months"])])
    rows.append(["Average monthly realized income", f"{goals['average_monthly_income']:,.2f}"])
    if "portfolio_value" in goals:
        figures = goals["portfolio_value"]
        months = figures["months_to_target"]
        rows.append(
            [
                f"Months to {figures['target']:,.0f} (median month {figures['median_month']:+.2%})",
                "never" if months is None else str(months),
            ]
        )
    return rows


def sizing_rows(goals: dict) -> list[list[str]]:
    off, on = goals["sizing"]["off"], goals["sizing"]["on"]
    return [
        ["Return", _pct(off["return"]), _pct(on["return"])],
        ["Max drawdown", _share(off["max_drawdown"]), _share(on["max_drawdown"])],
        ["Worst month", _pct(off["worst_month"]), _pct(on["worst_month"])],
        ["P(drawdown >= 20 %)", _share(off["p_drawdown_20"]), _share(on["p_drawdown_20"])],
    ]


def _share(value) -> str:
    return "—" if value is None else f"{value:.2%}"


def _pct(value) -> str:
    return "—" if value is None else f"{value:+.2%}"
