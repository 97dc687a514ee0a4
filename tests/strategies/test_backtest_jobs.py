"""Backtest jobs: the launch is checked at once (every bad field together), audited and queued on
the research queue; a real worker runs it with its progress saved and announced, and the job
ends done (with its run) or failed (why, in a trader's words)."""

from pathlib import Path

import pytest

from apps.common.errors import Invalid, NotAllowed, NotFound
from apps.common.models import AuditEntry, Event
from apps.strategies.backtests.jobs import backtest_job_execute, backtest_job_submit, backtest_launch_check
from apps.strategies.models import BacktestJob, BacktestRun
from tests.api.conftest import client_with, token_for
from tests.strategies.backtest_seed import LAUNCH, market_seeded, reports_in_tmp  # noqa: F401 (a fixture)
from tests.trading.factories import account_make, strategy_make
from tests.trading.people import person_make
from tests.workers import celery_worker, wait_until

GOOD = LAUNCH
pytestmark = pytest.mark.usefixtures("reports_in_tmp")


@pytest.fixture
def seeded(db):
    market_seeded()


@pytest.fixture
def trader(db):
    return person_make("tina", role="trader")


@pytest.mark.django_db
def test_every_bad_field_is_reported_at_once_in_trader_words(seeded):
    bad = {
        **GOOD,
        "params": {"fast": "1", "slow": "twenty"},
        "symbols": ["DOGE/USDT"],
        "timeframe": "7m",
        "start": "2025-03-01",
        "end": "2025-02-01",
        "fee_pct": "-1",
        "colour": "red",
    }

    with pytest.raises(Invalid) as refused:
        backtest_launch_check(bad)

    fields = refused.value.fields
    assert set(fields) == {"params.fast", "params.slow", "symbols", "timeframe", "end", "fee_pct", "colour"}
    assert fields["params.fast"] == ["must be at least 2, got 1"]
    assert "not in the database" in fields["symbols"][0] and "BTC/USDT" in fields["symbols"][0]
    assert fields["fee_pct"][0].startswith("Fee must be at least 0") and "got -1" in fields["fee_pct"][0]


@pytest.mark.django_db
def test_a_viewer_may_not_launch_and_the_refusal_is_audited(seeded):
    viewer = person_make("victor", role="viewer")

    with pytest.raises(NotAllowed):
        backtest_job_submit(actor=viewer, values=GOOD, via="page")

    assert not BacktestJob.objects.exists()
    assert AuditEntry.objects.get(action="backtest.launch").outcome == "refused"


@pytest.mark.django_db
def test_a_strategy_outside_your_accounts_is_not_found(seeded, trader):
    theirs = strategy_make(account=account_make(name="theirs"), markets=[], kind="ema_cross")

    with pytest.raises(NotFound):
        backtest_job_submit(actor=trader, values={**GOOD, "strategy": str(theirs.pk)}, via="api")


@pytest.mark.django_db
def test_a_job_runs_once_and_reports_its_progress_to_its_owner(seeded, trader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # run it here, not on the broker
        job = backtest_job_submit(actor=trader, values=GOOD, via="page")

    assert job.status == "queued" and AuditEntry.objects.filter(action="backtest.launch", outcome="done").count() == 1
    done = backtest_job_execute(job_id=job.pk)
    assert backtest_job_execute(job_id=job.pk) is None  # a redelivered message does nothing

    assert done.status == "done" and done.progress == 100 and done.result.owner == trader
    assert BacktestRun.objects.count() == 1 and done.result.metrics["trades"] >= 0
    progress = [e.payload["progress"] for e in Event.objects.filter(kind="backtest.progressed").order_by("id")]
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress) and len(progress) >= 5
    assert {e.topic for e in Event.objects.filter(kind="backtest.progressed")} == {f"backtests.{trader.pk}"}


@pytest.mark.django_db
def test_a_range_without_candles_fails_with_what_is_stored(seeded, trader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = backtest_job_submit(actor=trader, values={**GOOD, "start": "2024-01-01", "end": "2024-02-01"}, via="page")

    failed = backtest_job_execute(job_id=job.pk)

    assert failed.status == "failed" and failed.result is None
    assert "no BTC/USDT 15m candles" in failed.error and "stored: 2025-02-27" in failed.error


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_api_queues_a_backtest_that_a_real_worker_runs_and_a_retry_does_not_run_twice(trader):
    market_seeded()
    api = client_with(token_for(trader, "trade"))
    headers = {"HTTP_IDEMPOTENCY_KEY": "launch-1"}

    with celery_worker():
        answer = api.post("/api/v1/backtests/", GOOD, format="json", **headers)
        again = api.post("/api/v1/backtests/", GOOD, format="json", **headers)
        assert answer.status_code == 202, answer.json()
        job = answer.json()
        assert job["status"] == "queued" and job["progress"] == 0
        assert again.json()["id"] == job["id"] and again.headers["Idempotent-Replayed"] == "true"

        def finished():
            return api.get(f"/api/v1/backtest-jobs/{job['id']}/").json()["status"] in ("done", "failed")

        wait_until(finished, timeout=120, interval=0.5, message="the research worker to run the backtest")

    final = api.get(f"/api/v1/backtest-jobs/{job['id']}/").json()
    assert final["status"] == "done" and final["progress"] == 100, final
    run = api.get(final["run_url"]).json()
    assert run["symbols"] == ["BTC/USDT"] and run["params"]["fast"] == 5 and run["report_url"]
    assert set(run["key_metrics"]) >= {"total_return_pct", "max_drawdown_pct", "sharpe", "trades"}
    assert len(run["equity_curve"]) > 10
    assert BacktestJob.objects.count() == 1 and BacktestRun.objects.count() == 1
    assert Path(BacktestRun.objects.get().report_path).is_file()


@pytest.mark.django_db
def test_another_users_jobs_and_runs_are_404(seeded, trader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = backtest_job_submit(actor=trader, values=GOOD, via="page")
    backtest_job_execute(job_id=job.pk)
    stranger = client_with(token_for(person_make("sam", role="trader"), "read"))

    assert stranger.get(f"/api/v1/backtest-jobs/{job.pk}/").status_code == 404
    assert stranger.get(f"/api/v1/backtests/{BacktestRun.objects.get().pk}/").status_code == 404
    assert stranger.get("/api/v1/backtests/").json()["results"] == []
    assert stranger.post("/api/v1/backtests/", GOOD, format="json").status_code == 403  # a read token
