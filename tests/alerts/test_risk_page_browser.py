"""The risk page in Debian's Chromium against a real ASGI server: a trader sees the alerts with
their deliveries and the unacknowledged count, acknowledges one with its button, and the count goes down.
Screenshots in var/screenshots/risk_alerts*.png."""

import pytest
from django.db import connection

from apps.alerts.models import Alert, Channel, Delivery, Priority
from tests.access import PASSWORD, desk_user
from tests.trading.factories import account_make
from tests.web.test_market_page_browser import SCREENSHOTS, WAIT_MS, in_a_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(chromium):
    return chromium


@pytest.fixture
def server(settings):
    from tests.web.test_market_page_browser import AsgiServer

    settings.RELAY_IN_PROCESS = True
    running = AsgiServer()
    running.start()
    yield running
    running.stop()


def alerts_seed():
    try:
        return _alerts_seed()
    finally:
        connection.close()  # this thread's connection would keep the test database open


def _alerts_seed():
    account = account_make(name="main")
    hook = Channel.objects.create(name="ops hook", kind="webhook", url="http://127.0.0.1:9/x")
    phone = Channel.objects.create(name="phone", kind="telegram", secret="1:x", address="42")
    halted = Alert.objects.create(
        dedup_key="a",
        kind="kill_switch",
        priority=Priority.CRITICAL,
        account=account,
        title="Kill switch changed",
        body="account main kill switch set to HALTED: venue outage",
    )
    Delivery.objects.create(alert=halted, channel=hook, outcome="sent", attempt=1, response="200")
    Delivery.objects.create(alert=halted, channel=phone, outcome="failed", attempt=3, response="503 down")
    Alert.objects.create(
        dedup_key="b",
        kind="order.rejected",
        priority=Priority.HIGH,
        account=account,
        title="Order rejected: buy 0.1 BTC/USDT",
        body="Order td-1 rejected: insufficient balance",
    )
    desk_user("tess", role="trader", accounts=[account])
    return halted.pk


def test_a_trader_acknowledges_an_alert_from_the_risk_page_and_the_bell_count_goes_down(server, browser):
    halted = in_a_thread(alerts_seed)
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/risk/")
    page.fill("#id_username", "tess")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(f"#alert-{halted}", timeout=WAIT_MS)

    assert page.text_content("#nav-alert-count").strip() == "2 alerts"
    assert "phone: Failed" in page.text_content(f"#alert-{halted}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "risk_alerts.png"), full_page=True)

    page.click(f"#alert-{halted} button:has-text('Acknowledge')")
    page.wait_for_selector("text=acknowledged by tess", timeout=WAIT_MS)

    assert page.text_content("#nav-alert-count").strip() == "1 alert"
    page.screenshot(path=str(SCREENSHOTS / "risk_alerts_acknowledged.png"), full_page=True)
    assert errors == []
