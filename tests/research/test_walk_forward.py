"""Walk-forward on a seeded market: a study per fold, the out-of-sample curve stitched."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.research import studies
from apps.research.walkforward import WalkForwardRequest, walk_forward_create, walk_forward_report
from apps.strategies.backtests.plan import BacktestRequest
from apps.strategies.backtests.services import backtest_execute
from tests.research.study_support import ema_study_request, hourly_market_seeded

pytestmark = pytest.mark.django_db


def finish(study):
    while studies.study_trial_step(study.pk) != studies.DONE:
        pass


@pytest.mark.parametrize("anchored", [False, True])
def test_the_stitched_out_of_sample_equity_is_the_sum_of_the_fold_backtests(anchored):
    hourly_market_seeded()
    folds = walk_forward_create(
        WalkForwardRequest(study=ema_study_request(trials=4), folds=3, train_days=20, test_days=10, anchored=anchored)
    )
    for study in folds:
        assert study.train_end <= study.test_start
        finish(study)
    for earlier, later in zip(folds, folds[1:]):
        assert earlier.test_end <= later.test_start  # test windows never overlap
        assert later.train_end <= later.test_start
    report = walk_forward_report(folds[0].walk_forward)
    direct = []
    for fold in report.folds:
        outcome = backtest_execute(
            BacktestRequest(
                strategy="ema_cross",
                symbols=["BTC/USDT"],
                timeframe="1h",
                start=fold.test[0],
                end=fold.test[1],
                params=[f"{name}={value}" for name, value in fold.params.items() if name != "stop_loss"],
                stop_loss_pct=str(round(fold.params["stop_loss"], 4)),
            ),
            progress=False,
        )
        direct.append(outcome.result.final_equity - outcome.result.initial_balance)
    assert report.final_equity == pytest.approx(report.initial_balance + sum(direct), abs=1e-6)
    assert len(report.time) == len(set(report.time))  # one point per out-of-sample candle
    assert set(report.stability) == {"fast", "slow", "stop_loss", "allow_short"}


def test_the_command_runs_the_folds_and_prints_the_report(settings):
    hourly_market_seeded()
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the trial tasks run here, in place of a worker
    from tradedesk.celery import app

    app.conf.task_always_eager = True
    try:
        out = StringIO()
        call_command(
            "optimize", "--strategy", "ema_cross", "--symbol", "BTC/USDT", "--timeframe", "1h", "--trials", "3",
            "--space", "fast=3:20", "--space", "slow=21:60", "--walk-forward", "2", "--train-days", "20",
            "--test-days", "10", "--objective", "return_over_drawdown", "--tasks", "1", "--no-progress", stdout=out,
        )  # fmt: skip
    finally:
        app.conf.task_always_eager = False
    text = out.getvalue()
    assert "2 folds (rolling)" in text and "Out of sample, stitched: 10,000.00 ->" in text
    assert "walk-forward efficiency" in text and "  fast: [" in text
