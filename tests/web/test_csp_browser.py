"""Under the Content-Security-Policy every page still works in Debian's Chromium and the browser
reports no violation: the login, the live market page (chart + websocket), the admin, and a
stored backtest report served by the desk."""

import pytest

from apps.strategies.models import BacktestRun
from tests.strategies.backtest_seed import command_output, market_seeded
from tests.web.conftest import PASSWORD
from tests.web.test_market_page_browser import WAIT_MS, AsgiServer, in_a_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIOLATIONS = """() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber));
}"""


def violations_seen(page, console: list[str]) -> list[str]:
    return page.evaluate("() => window.__cspViolations") + [m for m in console if "Content Security Policy" in m]


@pytest.fixture
def desk(settings):
    """The desk's ASGI app on a port of its own (relay inside, so the market page goes live)."""
    settings.RELAY_IN_PROCESS = True
    running = AsgiServer()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1360, "height": 780})
    page.add_init_script(f"({VIOLATIONS})()")
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def log_in(page, url: str, username: str, password: str):
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[type=submit]")


def test_the_market_page_draws_and_goes_live_without_a_policy_violation(trader, seeded_market, desk, page):
    log_in(page, f"{desk.url}/accounts/login/?next=/markets/{seeded_market.pk}/%3Ftf%3D1m", trader.username, PASSWORD)

    page.wait_for_function("() => window.tradedesk && window.tradedesk.candleCount() === 120", timeout=WAIT_MS)
    page.wait_for_function("() => window.tradedesk.connectionState() === 'live'", timeout=WAIT_MS)

    assert violations_seen(page, page.console) == [] and page.errors == []
    assert page.locator("#chart canvas").count() > 0


def test_the_admin_works_without_a_policy_violation(django_user_model, seeded_market, desk, page):
    in_a_thread(lambda: django_user_model.objects.create_superuser(username="boss", email="", password=PASSWORD))
    log_in(page, f"{desk.url}/admin/login/?next=/admin/", "boss", PASSWORD)
    page.wait_for_selector("#site-name")

    for url in (
        "/admin/",
        "/admin/markets/market/",
        f"/admin/markets/market/{seeded_market.pk}/change/",
        "/admin/trading/order/?status__exact=open",
        "/admin/django_celery_beat/periodictask/add/",
    ):
        page.goto(f"{desk.url}{url}")
        assert violations_seen(page, page.console) == [], url
    assert page.errors == []


def test_the_periodic_task_form_still_explains_a_crontab_in_words(django_user_model, desk, page):
    from django_celery_beat.models import CrontabSchedule

    def seed():
        django_user_model.objects.create_superuser(username="boss", email="", password=PASSWORD)
        return CrontabSchedule.objects.create(minute="30", hour="4").pk

    crontab = in_a_thread(seed)
    log_in(page, f"{desk.url}/admin/login/?next=/admin/django_celery_beat/periodictask/add/", "boss", PASSWORD)

    page.select_option("#id_crontab", str(crontab))

    assert "Translation: At 04:30 AM" in page.text_content(".field-crontab .help")
    assert violations_seen(page, page.console) == [] and page.errors == []


def test_a_stored_backtest_report_served_by_the_desk_draws_its_charts(django_user_model, desk, page, tmp_path):
    def backtest():
        market_seeded(symbols=("BTC/USDT",), days=1, timeframes="1m")
        command_output("backtest", "--no-progress", "--strategy", "rsi", "--symbol", "BTC/USDT", "--output", str(tmp_path))
        django_user_model.objects.create_superuser(username="boss", email="", password=PASSWORD)
        return BacktestRun.objects.get().pk

    run_pk = in_a_thread(backtest)
    log_in(page, f"{desk.url}/admin/login/?next=/backtests/{run_pk}/report", "boss", PASSWORD)

    page.wait_for_selector("body[data-charts-ready=true]", timeout=WAIT_MS)
    assert violations_seen(page, page.console) == [] and page.errors == []
    assert page.locator("#equity-chart canvas").count() > 0


@pytest.mark.parametrize(("docs", "drawn"), [("/api/docs/", ".swagger-ui .info .title"), ("/api/redoc/", "h1")])
def test_the_api_docs_draw_the_schema_without_a_policy_violation(django_user_model, desk, page, docs, drawn):
    in_a_thread(lambda: django_user_model.objects.create_superuser(username="boss", email="", password=PASSWORD))
    log_in(page, f"{desk.url}/admin/login/?next=/admin/", "boss", PASSWORD)
    page.wait_for_selector("#site-name")

    page.goto(f"{desk.url}{docs}")
    page.wait_for_selector(drawn, timeout=WAIT_MS)

    assert "tradedesk API" in page.locator(drawn).first.inner_text()
    # ReDoc's footer logo points at its CDN: the policy blocks it, so nothing leaves the desk.
    seen = [v for v in violations_seen(page, page.console) if "cdn.redoc.ly" not in v]
    assert seen == [] and page.errors == []
