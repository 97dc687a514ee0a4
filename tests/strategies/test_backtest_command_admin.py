import pytest
from django.urls import reverse

from apps.strategies.models import BacktestRun
from tests.strategies.backtest_seed import command_output, market_seeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(tmp_path):
    market_seeded(symbols=("BTC/USDT",), days=1, timeframes="1m")
    command_output("backtest", "--no-progress", "--strategy", "rsi", "--symbol", "BTC/USDT", "--output", str(tmp_path))
    return BacktestRun.objects.get()


def test_the_admin_lists_the_run_with_a_link_to_its_report(run, admin_client):
    page = admin_client.get(reverse("admin:strategies_backtestrun_changelist")).content.decode()
    assert f'href="/backtests/{run.pk}/report"' in page and "BTC/USDT" in page


def test_the_report_is_served_to_staff_only(run, admin_client, client):
    response = admin_client.get(f"/backtests/{run.pk}/report")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert b"Backtest #" in b"".join(response.streaming_content)
    assert client.get(f"/backtests/{run.pk}/report").status_code == 302  # to the login page


def test_a_run_without_a_report_file_is_a_404(run, admin_client):
    BacktestRun.objects.filter(pk=run.pk).update(report_path="/nowhere/report.html")
    assert admin_client.get(f"/backtests/{run.pk}/report").status_code == 404
