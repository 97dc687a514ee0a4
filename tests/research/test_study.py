"""Optuna studies, run here step by step as a worker runs them: every finished trial is a
BacktestRun with train and test figures, the best one is what a direct backtest gives."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from optuna.trial import TrialState

from apps.common.errors import Invalid
from apps.research import studies
from apps.research.studies import study_create, study_progress, study_runs, study_trial_step
from apps.strategies.backtests.plan import BacktestRequest
from apps.strategies.backtests.services import backtest_execute
from tests.research.study_support import TEST, TRAIN, ema_study_request, hourly_market_seeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    hourly_market_seeded()


def run_to_the_end(study) -> list[str]:
    outcomes = []
    while (outcome := study_trial_step(study.pk)) != studies.DONE:
        outcomes.append(outcome)
        assert len(outcomes) <= study.trials + 1, "a study must end"
    return outcomes


def test_a_study_finishes_exactly_its_trials_each_stored_with_train_and_test_figures(market):
    study = study_create(ema_study_request(trials=12))
    assert run_to_the_end(study) == [studies.RAN] * 12
    progress = study_progress(study)
    assert progress.finished == 12 and progress.running == 0 and progress.status == "finished"
    runs = list(study_runs(study))
    assert len({run.settings["study"]["trial"] for run in runs}) == len(runs) == 12  # no invalid combination here
    for run in runs:
        assert run.metrics["end"] < TEST.split("..")[0] <= run.test_metrics["start"][:10]
        assert 3 <= run.params["fast"] <= 20 and 21 <= run.params["slow"] <= 60
        assert 0.005 <= run.settings["stop_loss_pct"] <= 0.05
    assert len({(run.params["fast"], run.params["slow"], run.settings["stop_loss_pct"]) for run in runs}) > 6


def test_the_best_trial_is_flagged_and_its_test_figures_are_those_of_a_direct_backtest(market):
    study = study_create(ema_study_request(trials=10))
    run_to_the_end(study)
    best = [run for run in study_runs(study) if run.is_best]
    assert len(best) == 1
    best = best[0]
    values = [run.settings["study"]["values"][0] for run in study_runs(study)]
    assert best.settings["study"]["values"][0] == max(values)
    direct = backtest_execute(
        BacktestRequest(
            strategy="ema_cross",
            symbols=["BTC/USDT"],
            timeframe="1h",
            start=TEST.split("..")[0],
            end=TEST.split("..")[1],
            params=[f"{name}={value}" for name, value in best.params.items()],
            stop_loss_pct=str(best.settings["stop_loss_pct"] * 100),
        ),
        output_dir=None,
        progress=False,
    )
    direct_metrics = direct.run.metrics
    for key in ("final_equity", "total_return_pct", "max_drawdown_pct", "trades", "win_rate_pct", "profit_factor", "fees"):
        assert best.test_metrics[key] == direct_metrics[key], key
    assert best.test_metrics["trades"] > 0


def test_a_combination_the_strategy_refuses_is_pruned_with_its_reason_and_still_counts(market):
    study = study_create(ema_study_request(trials=6, space=["fast=20:40", "slow=21:30"]))
    run_to_the_end(study)
    trials = studies._optuna_study(study).get_trials()
    assert len(trials) == 6 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    refused = [t for t in trials if t.params["fast"] >= t.params["slow"]]
    assert refused, "the space holds fast >= slow: some trial must have drawn it"
    for trial in refused:
        assert trial.state == TrialState.PRUNED and "fast: must be less than slow" in trial.user_attrs["reason"]
    assert study_runs(study).count() == 6 - len(refused)


def test_a_multi_objective_study_flags_its_pareto_front(market):
    study = study_create(ema_study_request(trials=10, objective="multi", sampler="nsga2"))
    run_to_the_end(study)
    runs = list(study_runs(study))
    front = [run for run in runs if run.is_best]
    assert front
    for run in front:  # nothing else both returns more and draws down less
        ret, dd = run.settings["study"]["values"]
        assert not any(o.settings["study"]["values"][0] > ret and o.settings["study"]["values"][1] < dd for o in runs)


def test_the_median_pruner_stops_trials_below_the_median_at_a_checkpoint(market):
    study = study_create(ema_study_request(trials=20, pruner="median", space=["fast=3:20", "slow=21:120"]))
    run_to_the_end(study)
    trials = studies._optuna_study(study).get_trials()
    assert len(trials) == 20
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and all("median" in t.user_attrs["reason"] for t in pruned)
    assert all(t.intermediate_values for t in pruned)


def test_every_bad_field_is_reported_at_once_in_trader_words(market):
    with pytest.raises(Invalid) as caught:
        study_create(
            ema_study_request(
                objective="luck", sampler="grid", trials=0, train="2025-02-01..2025-02-20", test=TRAIN, space=["speed=1:2"]
            )
        )
    fields = caught.value.fields
    assert set(fields) == {"objective", "sampler", "trials", "test", "space"}
    assert "train and test never overlap" in fields["test"][0]
    assert "'speed' is neither a parameter of ema_cross" in fields["space"][0]


def test_the_command_queues_a_study_and_a_resume_finds_it(market):
    out = StringIO()
    call_command(
        "optimize", "--strategy", "ema_cross", "--symbol", "BTC/USDT", "--timeframe", "1h", "--trials", "5",
        "--train", TRAIN, "--test", TEST, "--space", "fast=3:20", "--space", "slow=21:60", "--no-wait", "--no-progress",
        stdout=out,
    )  # fmt: skip
    assert "Study #" in out.getvalue() and "5 trials of ema_cross on BTC/USDT 1h" in out.getvalue()
    assert "optimize --resume" in out.getvalue()
    with pytest.raises(CommandError, match="there is no study #999999"):
        call_command("optimize", "--resume", "999999", "--no-wait", stdout=StringIO())
    with pytest.raises(CommandError, match="--strategy is required"):
        call_command("optimize", "--trials", "5", stdout=StringIO())


def test_the_best_trial_has_monte_carlo_significance_and_neighbourhood_figures_stored_with_its_run(market):
    from apps.research.robustness import study_robustness

    study = study_create(ema_study_request(trials=6))
    run_to_the_end(study)
    figures = study_robustness(study)
    best = study_runs(study).get(is_best=True)
    assert best.settings["robustness"] == figures and figures["trial"] == best.settings["study"]["trial"]
    assert figures["trades"] == best.test_metrics["trades"] > 0
    shuffle, bootstrap = figures["monte_carlo_shuffle"], figures["monte_carlo_bootstrap"]
    assert shuffle["final_equity"]["50"] == pytest.approx(best.test_metrics["final_equity"])  # order never changes the sum
    assert bootstrap["max_drawdown_pct"]["5"] <= bootstrap["max_drawdown_pct"]["50"] <= bootstrap["max_drawdown_pct"]["95"]
    assert 0 < figures["significance"]["p_value"] <= 1
    around = figures["neighbourhood"]
    assert around["neighbours"] == len(around["points"]) >= 3  # fast, slow and stop_loss each moved at least one way
    assert study_robustness(study) == figures  # computed once, read back


def test_the_command_prints_the_study_with_its_robustness_when_the_trials_run_in_place(market):
    from tradedesk.celery import app

    app.conf.task_always_eager = True
    try:
        out = StringIO()
        call_command(
            "optimize", "--strategy", "ema_cross", "--symbol", "BTC/USDT", "--timeframe", "1h", "--trials", "4",
            "--train", TRAIN, "--test", TEST, "--space", "fast=3:20", "--space", "slow=21:60",
            "--objective", "return_over_drawdown", "--tasks", "1", "--no-progress", stdout=out,
        )  # fmt: skip
    finally:
        app.conf.task_always_eager = False
    text = out.getvalue()
    assert "4 trials finished (0 failed and replaced); 4 stored as BacktestRuns" in text
    assert "Train return" in text and "Test return" in text
    assert "Monte Carlo, trade order shuffled x1000" in text and "One step around the best params" in text
    assert "p-value 0." in text or "p-value 1.000" in text
