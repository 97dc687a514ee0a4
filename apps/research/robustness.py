"""Robustness of a study's best trial, for its report: Monte Carlo of its out-of-sample
trades, their significance against random entries, and how the train objective holds up one
step around the best params. Stored with the best trial's BacktestRun (settings.robustness)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from optuna.trial import TrialState

from apps.common.errors import Conflict
from apps.engine.robustness import monte_carlo_bootstrap, monte_carlo_shuffle, neighbourhood_drop, random_entry_significance
from apps.research.models import Study
from apps.research.space import dimension_from_json, objective_values
from apps.research.studies import _optuna_study, span_backtest, span_run
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.models import BacktestRun

MONTE_CARLO_RUNS = 1000
SIGNIFICANCE_RUNS = 2000
NEIGHBOUR_STEPS = 20  # a float param without a step moves by 1/20 of its range


def study_robustness(study: Study) -> dict:
    """The best trial's robustness figures (single objective: the best; multi: the first of
    the Pareto front), computed once and stored."""
    optuna_study = _optuna_study(study)
    if not optuna_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise Conflict("the study has no scored trial yet")
    best = optuna_study.best_trials[0] if len(optuna_study.directions) > 1 else optuna_study.best_trial
    run = BacktestRun.objects.filter(sweep_id=study.uuid, settings__study__trial=best.number).first()
    if run is not None and "robustness" in run.settings:
        return run.settings["robustness"]
    figures = {
        "trial": best.number,
        **_out_of_sample(study, best.params, seed=study.seed),
        "neighbourhood": _neighbourhood(study, best.params, best.values[0]),
    }
    if run is not None:
        run.settings = {**run.settings, "robustness": figures}
        run.save(update_fields=["settings", "updated_at"])
    return figures


def _out_of_sample(study: Study, params: dict, *, seed: int) -> dict:
    plan, data, result = span_run(study, params, study.test_start, study.test_end)
    table, initial = result.trade_table, result.initial_balance
    pnl = table["pnl"]
    equity_before = initial + np.concatenate(([0.0], np.cumsum(pnl)[:-1]))
    shuffle = monte_carlo_shuffle(pnl, initial, runs=MONTE_CARLO_RUNS, seed=seed)
    bootstrap = monte_carlo_bootstrap(pnl / equity_before, initial, runs=MONTE_CARLO_RUNS, seed=seed)
    market = data[plan.symbols[0]]  # the significance test reads one market's closes
    mine = table["market"] == 0
    significance = random_entry_significance(
        market.candles.close,
        table["entry_bar"][mine],
        table["exit_bar"][mine],
        table["side"][mine],
        runs=SIGNIFICANCE_RUNS,
        seed=seed,
    )
    return {
        "trades": int(len(pnl)),
        "monte_carlo_shuffle": _json(asdict(shuffle)),
        "monte_carlo_bootstrap": _json(asdict(bootstrap)),
        "significance": asdict(significance) | {"market": plan.symbols[0]},
    }


def _neighbourhood(study: Study, params: dict, best_value: float) -> dict:
    """The train objective one step either side of each numeric param of the best trial."""
    values, detail = [], []
    for dimension in map(dimension_from_json, study.space):
        if dimension.kind == "categorical" or dimension.name not in params:
            continue
        step = dimension.step or (1 if dimension.kind == "int" else (dimension.high - dimension.low) / NEIGHBOUR_STEPS)
        for direction in (-1, 1):
            moved = params[dimension.name] + direction * step
            if not dimension.low <= moved <= dimension.high:
                continue
            neighbour = {**params, dimension.name: moved}
            try:
                _, metrics = span_backtest(study, neighbour, study.train_start, study.train_end)
                value = objective_values(study.objective, metrics)[0]
            except BacktestError:  # e.g. fast reaches slow
                value = None
            values.append(None if value is None else value[0])
            detail.append({"param": dimension.name, "value": moved, "objective": values[-1]})
    return neighbourhood_drop(best_value, values) | {"best": best_value, "points": detail}


def _json(figures: dict) -> dict:
    """Percentile keys as text, as JSON stores them."""
    return {key: ({str(k): v for k, v in value.items()} if isinstance(value, dict) else value) for key, value in figures.items()}
