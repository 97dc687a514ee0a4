"""The market page in Debian's Chromium against a real ASGI server (uvicorn) on this test's
database: log in, see the chart, see a candle the collector stores appear live, see the page
notice when the server goes away. A screenshot lands in var/screenshots/market_page.png."""

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
from django.conf import settings as django_settings
from django.db import connection

from apps.markets.models import Candle
from tests.web.conftest import PASSWORD, candle_close_record
from tests.workers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
WAIT_MS = 15000


def in_a_thread(function, *args):
    """Playwright's sync API runs an event loop here, and Django refuses ORM calls beside one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def collector_stores_next_candle(market) -> Candle:
    try:
        newest = Candle.objects.filter(market=market).latest("open_time")
        candle, _ = candle_close_record(
            market=market, open_time=newest.open_time + timedelta(minutes=1), close=newest.close + Decimal("12.25")
        )
        return candle
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AsgiServer:
    """uvicorn in a thread of this process, so it sees the test database (SQLite in memory too)."""

    def __init__(self, port: int | None = None):
        from tradedesk.asgi import application

        self.port = port or free_port()
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10, interval=0.05, message="uvicorn to start")

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def server(settings):
    settings.RELAY_IN_PROCESS = True  # the page's events come from the relay inside the web process
    running = AsgiServer()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def browser(chromium):
    return chromium


def test_a_trader_sees_the_chart_fill_in_live_and_notices_when_the_desk_goes_away(trader, seeded_market, server, browser):
    page = browser.new_page(viewport={"width": 1360, "height": 780})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{server.url}/markets/{seeded_market.pk}/?tf=1m")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", trader.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_function("() => window.tradedesk && window.tradedesk.candleCount() === 120", timeout=WAIT_MS)
    page.wait_for_function("() => window.tradedesk.connectionState() === 'live'", timeout=WAIT_MS)
    assert page.locator("#chart canvas").count() > 0
    assert page.text_content("#candle-count") == "120"
    assert page.text_content("#conn-state .conn-text") == "live"

    stored = in_a_thread(collector_stores_next_candle, seeded_market)

    page.wait_for_function("() => window.tradedesk.candleCount() === 121", timeout=WAIT_MS)
    assert page.evaluate("() => window.tradedesk.lastCandle().close") == str(stored.close)
    assert page.text_content("#last-price") == f"{stored.close:.2f}"
    assert page.url.endswith(f"/markets/{seeded_market.pk}/?tf=1m")  # no reload happened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "market_page.png"))

    server.stop()

    page.wait_for_function("() => window.tradedesk.connectionState() === 'disconnected'", timeout=WAIT_MS)
    assert page.text_content("#conn-state .conn-text").startswith("disconnected — reconnecting")
    page.screenshot(path=str(SCREENSHOTS / "market_page_disconnected.png"))
    assert errors == []


@pytest.mark.slow
def test_a_socket_that_goes_silent_is_noticed_within_30_seconds_and_the_page_resyncs(
    trader, seeded_market, server, browser, monkeypatch
):
    """A connection can die without a close (a laptop sleeps, a proxy drops it): the desk then
    answers nothing. The page's heartbeat must notice, show it, reconnect and fetch what it missed."""
    from apps.web.consumers import EventsConsumer

    page = browser.new_page()
    page.goto(f"{server.url}/markets/{seeded_market.pk}/?tf=1m")
    page.fill("#id_username", trader.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.tradedesk && window.tradedesk.connectionState() === 'live'", timeout=WAIT_MS)
    page.evaluate(
        "() => { window.statesSeen = []; setInterval(() => window.statesSeen.push(window.tradedesk.connectionState()), 200); }"
    )

    answer = EventsConsumer.receive_json

    async def deaf_to_pings(self, content, **kwargs):
        if content != {"type": "ping"}:
            await answer(self, content, **kwargs)

    async def no_live_events(self, message):
        pass

    monkeypatch.setattr(EventsConsumer, "receive_json", deaf_to_pings)
    monkeypatch.setattr(EventsConsumer, "event_message", no_live_events)
    stored = in_a_thread(collector_stores_next_candle, seeded_market)  # not pushed: the socket is "dead"

    page.wait_for_function("() => window.statesSeen.includes('disconnected')", timeout=30_000)
    page.wait_for_function("() => window.tradedesk.candleCount() === 121", timeout=WAIT_MS)  # resynced on reconnect
    page.wait_for_function("() => window.tradedesk.connectionState() === 'live'", timeout=WAIT_MS)
    assert page.evaluate("() => window.tradedesk.lastCandle().close") == str(stored.close)
