"""/backtests/: the launch form from the param schemas with the shared validation, the jobs, the
report and the comparison; another user's runs and topic are theirs."""

import re

import pytest

from apps.common.models import AuditEntry
from apps.strategies.backtests.jobs import backtest_job_execute
from apps.strategies.models import BacktestJob, BacktestRun
from apps.web.selectors import topics_authorize
from tests.strategies.backtest_seed import LAUNCH, market_seeded, reports_in_tmp  # noqa: F401 (a fixture)
from tests.trading.people import person_make

FORM = {
    **{name: value for name, value in LAUNCH.items() if name != "params"},
    **{f"p_ema_cross_{name}": value for name, value in LAUNCH["params"].items()},
    "p_rsi_period": "99999",  # another kind's field: not sent to the backtest
    "slippage_bps": "0",
}
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reports_in_tmp")]


@pytest.fixture
def trader(client):
    market_seeded()
    user = person_make("tina", role="trader")
    client.force_login(user)
    return user


def launch(client, django_capture_on_commit_callbacks, **changes):
    with django_capture_on_commit_callbacks(execute=False):  # the worker's part is run by the test
        return client.post("/backtests/launch", {**FORM, **changes})


def test_the_form_renders_each_kinds_params_from_its_schema(client, trader):
    html = client.get("/backtests/").content.decode()

    assert re.search(r'<fieldset class="kind-params wide" data-kind="bollinger" >', html)  # the first kind, shown
    assert re.search(r'name="p_ema_cross_fast" value="" placeholder="9" step="1" min="2" max="1000"', html)
    assert 'name="p_ema_cross_allow_short"' in html and "default (no)" in html  # a bool is a yes / no choice
    assert re.search(r'data-kind="ema_cross" hidden', html) and re.search(r'data-kind="rsi" hidden', html)


def test_a_launch_queues_a_job_and_its_run_shows_in_the_list_and_the_report(client, trader, django_capture_on_commit_callbacks):
    answer = launch(client, django_capture_on_commit_callbacks)

    job = BacktestJob.objects.get()
    assert answer.status_code == 302 and answer.url == f"/backtests/#job-{job.pk}"
    assert job.request["params"] == ["fast=5", "slow=20"] and job.owner == trader
    assert "Queued" in client.get("/backtests/").content.decode()
    backtest_job_execute(job_id=job.pk)
    run = BacktestRun.objects.get()
    html = client.get("/backtests/").content.decode()
    assert f'href="/backtests/{run.pk}/">#{run.pk}</a>' in html and "100%" in html
    report = client.get(f"/backtests/{run.pk}/").content.decode()
    assert "fast=5, slow=20" in report and f'href="/backtests/{run.pk}/report"' in report
    assert "Total return" in report and 'id="run-series"' in report


def test_every_bad_field_is_shown_on_its_field_and_the_values_are_kept(client, trader, django_capture_on_commit_callbacks):
    answer = launch(
        client, django_capture_on_commit_callbacks, p_ema_cross_fast="1", symbols=["DOGE/USDT"], fee_pct="-1", end="2025-01-01"
    )

    html = answer.content.decode()
    assert answer.status_code == 200 and not BacktestJob.objects.exists()
    errors = re.findall(r'<span class="field-error">([^<]+)</span>', html)
    assert any("at least 2" in e for e in errors) and any("DOGE/USDT" in e for e in errors)
    assert any(e.startswith("Fee must be") for e in errors) and any("must be after the start" in e for e in errors)
    assert 'name="p_ema_cross_fast" value="1"' in html  # what the trader typed stays


def test_the_page_left_at_the_launch_address_after_a_refusal_still_refreshes_and_reloads(
    client, trader, django_capture_on_commit_callbacks
):
    launch(client, django_capture_on_commit_callbacks, fee_pct="-1")  # the form answers at /backtests/launch

    refreshed = client.get("/backtests/launch", headers={"X-Desk-Live": "1"})  # desk.js fetches location.href

    assert refreshed.status_code == 200 and 'id="launch-strategy"' in refreshed.content.decode()


def test_a_viewer_sees_no_form_and_a_forged_launch_is_refused_and_audited(client, django_capture_on_commit_callbacks):
    market_seeded()
    client.force_login(person_make("victor", role="viewer"))

    assert 'id="launch-form"' not in client.get("/backtests/").content.decode()
    answer = launch(client, django_capture_on_commit_callbacks)

    assert answer.status_code == 302 and not BacktestJob.objects.exists()
    assert AuditEntry.objects.get(action="backtest.launch").outcome == "refused"


def test_two_runs_side_by_side(client, trader, django_capture_on_commit_callbacks):
    for slow in ("20", "30"):
        launch(client, django_capture_on_commit_callbacks, p_ema_cross_slow=slow)
    for job in BacktestJob.objects.all():
        backtest_job_execute(job_id=job.pk)
    a, b = BacktestRun.objects.order_by("pk")

    html = client.get(f"/backtests/compare/?run={a.pk}&run={b.pk}").content.decode()

    assert f"#{a.pk} vs #{b.pk}" in html and "slow=20" in html and "slow=30" in html
    assert "Max drawdown %" in html and 'id="compare-series"' in html
    assert client.get(f"/backtests/compare/?run={a.pk}").status_code == 302  # two or none


def test_another_users_run_is_a_404_and_their_topic_is_refused(client, trader, django_capture_on_commit_callbacks):
    launch(client, django_capture_on_commit_callbacks)
    backtest_job_execute(job_id=BacktestJob.objects.get().pk)
    run = BacktestRun.objects.get()
    stranger = person_make("sam", role="trader")
    client.force_login(stranger)

    assert client.get(f"/backtests/{run.pk}/").status_code == 404
    assert f"#{run.pk}" not in client.get("/backtests/").content.decode()
    decision = topics_authorize(user=stranger, topics=[f"backtests.{trader.pk}", f"backtests.{stranger.pk}"])
    assert decision.allowed == [f"backtests.{stranger.pk}"] and "another user's" in decision.refusals[0]
