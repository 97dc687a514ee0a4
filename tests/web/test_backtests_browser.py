"""/backtests/ and /performance/ in Debian's Chromium against a real ASGI server (relay in process)
and a real Celery worker on Redis: a trader fills the launch form, sees the job queued, then a
worker starting moves its progress bar to done without a reload; opens the report, compares two
runs; the performance page shows what its API answers. Screenshots at 1280 and 390 px land in
/tmp/shots/perf/."""

from decimal import Decimal
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection, transaction
from django.utils import timezone

from apps.common.events import event_record
from apps.exchanges.models import AccountMembership
from apps.exchanges.roles import role_groups_ensure
from apps.strategies.backtests.jobs import TASK
from apps.strategies.models import BacktestRun
from apps.trading.models import PortfolioSnapshot
from tests.access import desk_user
from tests.strategies.backtest_seed import market_seeded
from tests.trading.performance_history import history_seed
from tests.web.test_cockpit_browser import log_in, watched
from tests.web.test_market_page_browser import in_a_thread, server  # noqa: F401 (the fixture)
from tests.workers import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots/perf")
WAIT_MS = 20000


@pytest.fixture
def research_desk(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    role_groups_ensure()
    market_seeded()
    history = history_seed()
    trader = desk_user("tina", role="trader", accounts=[])
    AccountMembership.objects.create(account=history.account, user=trader)
    return trader, history


def snapshot_recorded(account, equity: Decimal) -> None:
    try:
        with transaction.atomic():
            PortfolioSnapshot.objects.create(
                account=account,
                taken_at=timezone.now(),
                equity=equity,
                cash=equity,
                positions_value=0,
                realized_pnl=0,
                unrealized_pnl=0,
            )
            event_record(
                "portfolio.snapshot_taken",
                {"account": account.pk, "equity": str(equity), "cash": str(equity)},
                account=account.pk,
            )
    finally:
        connection.close()


def launch_from_the_form(page, slow: str) -> None:
    page.select_option("#launch-strategy", "ema_cross")
    page.fill("input[name=p_ema_cross_fast]", "5")
    page.fill("input[name=p_ema_cross_slow]", slow)
    page.select_option("#launch-symbols", ["BTC/USDT", "ETH/USDT"])
    page.select_option("select[name=timeframe]", "1m")
    page.fill("input[name=start]", "2025-02-27")
    page.fill("input[name=end]", "2025-03-01")
    page.click("#launch-button")
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)


def test_a_backtest_launched_from_the_page_shows_its_progress_live_then_its_report(research_desk, server, chromium):  # noqa: F811 - `server` is the fixture of that name, imported above
    trader, history = research_desk
    errors: list = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = watched(chromium.new_page(viewport={"width": 1280, "height": 900}), errors)
    log_in(page, server.url, trader)
    page.goto(f"{server.url}/backtests/")
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)

    page.select_option("#launch-strategy", "ema_cross")
    assert page.is_visible("fieldset[data-kind=ema_cross]") and not page.is_visible("fieldset[data-kind=rsi]")
    page.fill("input[name=p_ema_cross_fast]", "1")  # below the schema's minimum: refused on its field
    page.click("#launch-button")
    assert "must be at least 2, got 1" in page.inner_text("fieldset[data-kind=ema_cross] .field-error")
    page.screenshot(path=str(SHOTS / "backtests-form-errors-1280.png"), full_page=True)

    launch_from_the_form(page, "20")  # no worker yet: the job waits, queued
    job = page.locator(".job").first
    assert job.get_attribute("data-status") == "queued" and "0%" in job.inner_text()
    with celery_worker(
        reconciled=False
    ):  # no exchange account to reconcile; it purges the broker first (old messages name other databases): queue the job again
        current_app.tasks[TASK].apply_async(args=(int(job.get_attribute("data-job")),))
        page.wait_for_selector(".job[data-status=done]", timeout=60000)
        assert page.locator(".job progress").first.get_attribute("value") == "100"
        assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # never reloaded
        page.screenshot(path=str(SHOTS / "backtests-done-1280.png"), full_page=True)
        launch_from_the_form(page, "30")
        page.wait_for_function("() => document.querySelectorAll('.job[data-status=done]').length === 2", timeout=60000)

    first, second = in_a_thread(lambda: list(BacktestRun.objects.select_related("job").order_by("pk")))
    page.click(f"#job-{first.job.pk} a")
    page.wait_for_selector("#run-chart canvas", timeout=WAIT_MS)
    assert "fast=5, slow=20" in page.inner_text("body")
    page.goto(f"{server.url}/backtests/")
    page.check(f"input[name=run][value='{first.pk}']")
    page.check(f"input[name=run][value='{second.pk}']")
    page.click("#compare-button")
    page.wait_for_selector("#compare-chart canvas", timeout=WAIT_MS)
    assert f"#{first.pk} vs #{second.pk}" in page.inner_text("h1")

    # The performance page shows the API's figures (and both the hand calculation, see
    # tests/web/test_performance_page.py).
    api = page.request.get(f"{server.url}/api/v1/performance/accounts/{history.account.pk}/").json()
    page.goto(f"{server.url}/performance/?account={history.account.pk}")
    page.wait_for_selector("#equity-chart canvas", timeout=WAIT_MS)
    assert page.inner_text("#total-return") == f"▲ +{api['total_return_pct']:.2f}%" == "▲ +8.90%"
    assert page.inner_text("#max-drawdown") == f"{api['max_drawdown_pct']:.2f}%" == "10.00%"
    months = page.locator("#monthly tbody tr").first.locator("td").all_inner_texts()
    assert months[1:3] == [f"▲ +{api['monthly'][0]['return_pct']:.2f}%", f"▼ −{-api['monthly'][1]['return_pct']:.2f}%"]

    in_a_thread(snapshot_recorded, history.account, Decimal("1200"))  # the desk takes a snapshot: the page follows
    page.wait_for_function("() => document.getElementById('total-return').innerText === '▲ +20.00%'", timeout=WAIT_MS)
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1

    pages = {
        "backtests": "/backtests/",
        "backtest-report": f"/backtests/{first.pk}/",
        "backtest-compare": f"/backtests/compare/?run={first.pk}&run={second.pk}",
        "performance": f"/performance/?account={history.account.pk}",
        "performance-all-by-week": "/performance/?by=week",
    }
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            page.goto(f"{server.url}{url}")
            page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the screen"
    assert errors == []
