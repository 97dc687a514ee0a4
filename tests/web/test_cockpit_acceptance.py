"""The cockpit's acceptance, on the production runtime: PostgreSQL, Redis (Celery broker and
channel layer), a real Celery worker, the relay on its own loop (woken by PostgreSQL's outbox
notifications), uvicorn, and the real ccxt client against the simulated exchange. Debian's
Chromium drives it as a trader and as a viewer would.

- A trader sees an entry's position appear on /positions/ without a reload, its P&L move with
  the exchange's price, closes it with the button, and sees the close fill on /orders/ and the
  position move to the closed tab; the exchange's orders are then the desk's, each
  client_order_id once, and each position the sum of its fills.
- A HALTED kill switch set in another tab shows on every page within 2 s.
- With the web server gone every page says its data may be stale and since when; restarted, each
  resyncs by event id without a reload and without a duplicate row.
- A viewer sees the same pages without an action button; a forged close is refused (403) and
  audited as refused.
- No console error, no request leaving the desk; screenshots of every page at 1280 and 390 px
  land in /tmp/cockpit-shots/acceptance/.
"""

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.db import connection

from apps.common.models import AuditEntry
from apps.exchanges.clients import exchange_client
from apps.exchanges.roles import role_groups_ensure
from apps.markets.models import Candle
from apps.risk.services import kill_switch_set
from apps.trading.models import Order, Position, Signal
from apps.trading.services.placement import signal_execute
from apps.trading.tasks import prices_poll
from apps.web.templatetags.desk import qty
from tests.access import desk_user
from tests.simulated_exchange import simexchange_running
from tests.trading.factories import signal_make, strategy_make
from tests.trading.sim import price_move, sim_desk
from tests.trading.test_drills_worker import assert_exchange_matches_database, assert_positions_are_the_sum_of_their_fills
from tests.web.runtime import RelayThread
from tests.web.test_cockpit_browser import log_in, snapshots_seed
from tests.web.test_market_page_browser import AsgiServer, in_a_thread
from tests.workers import celery_worker, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cockpit-shots/acceptance")
WAIT_MS = 20_000
RECONNECT_MS = 40_000  # the page backs off up to 15 s between attempts
BANNER_WITHIN_MS = 2_000
WIDTHS = (1280, 390)
HALTED_WATCH = """() => new MutationObserver((_, observer) => {
    if (document.querySelector(".banner-halted")) { window.haltedShownAt = Date.now(); observer.disconnect(); }
}).observe(document.body, { childList: true, subtree: true })"""


def every_page(desk) -> dict[str, str]:
    return {
        "desk": "/",
        "positions": "/positions/",
        "orders": "/orders/",
        "signals": "/signals/",
        "risk": "/risk/",
        "strategy": f"/strategies/{desk.strategy.pk}/",
        "performance": "/performance/",
        "markets": "/markets/",
        "market": f"/markets/{desk.market.pk}/?tf=1m",
        "data": "/data/",
    }


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=0.05) as exchange:
        yield exchange


@pytest.fixture
def desk(sim, settings):
    settings.RELAY_IN_PROCESS = False  # production: the relay is its own process (here: thread)
    role_groups_ensure()
    account, market = sim_desk(sim, price=D("60000"))
    exchange_client(account).timeout = 2000  # the worker's threads share this cached client
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"), name="sim ema")
    snapshots_seed(account)
    return SimpleNamespace(
        sim=sim,
        account=account,
        market=market,
        strategy=strategy,
        trader=desk_user("tina", role="trader", accounts=[account]),
        viewer=desk_user("vera", role="viewer", accounts=[account]),
    )


class Web:
    """uvicorn that can be stopped and started again on the same address."""

    def __init__(self):
        self.server = AsgiServer()
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self):
        self.server.stop()

    def restart(self):
        self.server = AsgiServer(port=self.server.port)
        self.server.start()


@pytest.fixture
def web(desk):
    with celery_worker(), RelayThread():
        running = Web()
        yield running
        running.stop()


class Watch:
    """Every console error, page error and request of the pages it watches; a request to any
    address but the desk's is a leak (a CDN, a font, a tracker)."""

    def __init__(self, web: Web):
        self.desk_address = urlsplit(web.url).netloc
        self.errors: list[str] = []
        self.outside: list[str] = []

    def page(self, context):
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda m: self.errors.append(f"{m.text} {m.location.get('url', '')}") if m.type == "error" else None)
        page.on("request", lambda request: self._leaves(request.url))
        page.on("websocket", lambda socket: self._leaves(socket.url))
        return page

    def _leaves(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != self.desk_address:
            self.outside.append(url)

    def errors_besides_the_outage(self) -> list[str]:
        return [error for error in self.errors if "ERR_CONNECTION_REFUSED" not in error]


# --- What happens on the desk (ORM calls run outside Playwright's event loop) -----------------


INDICATORS = {"ema_fast": 60012.5, "ema_slow": 59987.25}


def entry_placed(desk, price: D = D("60000")) -> Order:
    """What an evaluation does for an entry signal on the candle that just closed: placed here,
    submitted by the worker."""
    try:
        price_move(desk.sim, desk.market, price)
        signal = signal_make(strategy=desk.strategy, market=desk.market)
        candle = Candle.objects.filter(market=desk.market, timeframe="1m").latest("open_time")
        Signal.objects.filter(pk=signal.pk).update(indicators=INDICATORS, candle_time=candle.open_time)
        return signal_execute(signal_id=signal.pk)
    finally:
        connection.close()


def first_signal_time(desk) -> int:
    try:
        candle = Signal.objects.filter(strategy=desk.strategy).earliest("id").candle_time
        return int(candle.timestamp()) // 60 * 60
    finally:
        connection.close()


def exchange_price_moves(desk, price: D) -> None:
    """The exchange's price changes; the beat's ticker poll runs on the worker."""
    desk.sim.price_pin(desk.market.symbol, price)
    prices_poll.delay()


def kill_switch_reset(desk) -> None:
    try:
        kill_switch_set(actor=None, account=desk.account, state="active", reason="resumed while the web was down")
    finally:
        connection.close()


def orders_settled(desk, count: int) -> bool:
    try:
        return Order.objects.filter(account=desk.account, status="filled").count() == count
    finally:
        connection.close()


def books_agree(desk) -> None:
    try:
        assert_exchange_matches_database(desk.sim)
        assert_positions_are_the_sum_of_their_fills()
    finally:
        connection.close()


def open_position(desk) -> Position:
    try:
        return Position.objects.open().get(account=desk.account)
    finally:
        connection.close()


def refused_closes(user) -> list[AuditEntry]:
    try:
        return list(AuditEntry.objects.filter(who=user, action="position.close", outcome="refused"))
    finally:
        connection.close()


# --- The pages ---------------------------------------------------------------------------------


def opened(watch, context, web, path: str):
    page = watch.page(context)
    page.goto(f"{web.url}{path}")
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
    return page


def never_reloaded(page) -> bool:
    return page.evaluate("() => performance.getEntriesByType('navigation').length") == 1


def rows_of(page, selector: str, attribute: str) -> list[str]:
    return page.eval_on_selector_all(selector, f"(rows) => rows.map((row) => row.getAttribute('{attribute}'))")


def test_a_trader_watches_a_position_live_closes_it_and_every_page_keeps_up_with_the_desk(desk, web, chromium):
    watch = Watch(web)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    positions = watch.page(context)
    log_in(positions, web.url, desk.trader)
    positions.goto(f"{web.url}/positions/")
    positions.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
    assert "No open position." in positions.inner_text("#positions-table")
    orders = opened(watch, context, web, "/orders/")

    # An entry fills on the exchange (through the worker): its position appears, no reload.
    in_a_thread(entry_placed, desk)
    positions.wait_for_selector("#positions tr[data-position]", timeout=WAIT_MS)
    position = in_a_thread(open_position, desk)
    row = positions.locator(f"#position-{position.pk}")
    assert row.locator("td[data-label=Amount]").inner_text() == qty(position.amount, desk.market)  # on the market's step
    flat = row.locator("td[data-label=Unrealized]").inner_text()

    # The exchange's price rises 1 %: the unrealized P&L follows, as a gain with sign and arrow.
    in_a_thread(exchange_price_moves, desk, D("60600"))
    positions.wait_for_function(
        f"(flat) => document.querySelector('#position-{position.pk} td[data-label=Unrealized]').innerText !== flat",
        arg=flat,
        timeout=WAIT_MS,
    )
    assert row.locator("td[data-label=Last]").inner_text() == "60600.00"
    assert row.locator("td[data-label=Unrealized]").inner_text().startswith("▲ +")

    # Closed with the button: the row leaves, the close fills on /orders/, the position is closed.
    dialogs = []
    positions.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name=f"Close {desk.market.symbol} on {desk.account.name}").click()
    positions.wait_for_selector(f"#position-{position.pk}", state="detached", timeout=WAIT_MS)
    assert dialogs[0].startswith(f"Close {desk.market.symbol} on {desk.account.name}?")
    orders.wait_for_function("() => document.querySelectorAll('#orders tr[data-order]').length === 2", timeout=WAIT_MS)
    wait_until(lambda: in_a_thread(orders_settled, desk, 2), timeout=20, message="entry and close filled")
    close = orders.locator("#orders tr[data-order]").first
    orders.wait_for_function(
        "() => document.querySelector('#orders tr[data-order] .badge').innerText === 'Filled'", timeout=WAIT_MS
    )
    assert "sell" in close.inner_text()
    assert never_reloaded(positions) and never_reloaded(orders)
    in_a_thread(books_agree, desk)

    closed = opened(watch, context, web, "/positions/?tab=closed")
    assert closed.locator(f"#position-{position.pk}").count() == 1

    # The strategy's chart marks the entry and the exit; clicking the entry's candle shows why.
    strategy = opened(watch, context, web, f"/strategies/{desk.strategy.pk}/")
    strategy.wait_for_function("() => window.tradedesk.chartMarkers === 2", timeout=WAIT_MS)
    point = strategy.evaluate("(time) => window.tradedesk.candlePoint(time)", in_a_thread(first_signal_time, desk))
    box = strategy.locator("#strategy-chart").bounding_box()
    strategy.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    strategy.wait_for_selector("#marker-detail .marker-block", timeout=WAIT_MS)
    detail = strategy.inner_text("#marker-detail")
    assert "▲ entry · buy" in detail and "ema_fast" in detail and "60012.5" in detail
    assert strategy.inner_text("#parity-extra") == "2"  # a test strategy kind: no backtest, both trades extra

    # Every page, open in its own tab; screenshots at both widths.
    tabs = {name: opened(watch, context, web, path) for name, path in every_page(desk).items()}
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        for name, tab in tabs.items():
            tab.set_viewport_size({"width": width, "height": 900})
            tab.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        for tab in tabs.values():
            tab.set_viewport_size({"width": 1280, "height": 900})

    # HALTED in another tab: every page shows the banner within 2 s (as each page saw it: the
    # moment it appeared there, on the browser's one clock, against the moment of the click).
    for tab in tabs.values():
        tab.evaluate(HALTED_WATCH)
    # The trader switches the sound on (off by default), from the keyboard.
    sound = tabs["desk"].locator("#sound-toggle")
    assert sound.get_attribute("aria-pressed") == "false"
    sound.focus()
    tabs["desk"].keyboard.press("Enter")
    assert sound.get_attribute("aria-pressed") == "true" and sound.inner_text() == "♪ sound on"
    risk = opened(watch, context, web, "/risk/")
    risk.on("dialog", lambda dialog: dialog.accept())
    form = risk.locator(f"form[action='/accounts/{desk.account.pk}/kill-switch']")
    form.locator("select").select_option("halted")
    form.locator("input[name=reason]").fill("stop everything")
    clicked_at = risk.evaluate("() => Date.now()")
    form.get_by_role("button", name="Set").click()
    for name, tab in tabs.items():
        tab.wait_for_selector(".banner-halted", timeout=WAIT_MS)
        shown_after_ms = tab.evaluate("() => window.haltedShownAt") - clicked_at
        assert shown_after_ms <= BANNER_WITHIN_MS, f"{name}: the banner took {shown_after_ms} ms"
        assert f"Account {desk.account.name} is HALTED" in tab.inner_text("#desk-banners"), name
    assert tabs["desk"].evaluate("() => window.tradedesk.alarms") == 1  # a HALT is critical: one alarm

    # The web server goes away: every page says its data may be stale, and since when.
    web.stop()
    for name, tab in tabs.items():
        tab.wait_for_selector("#live-state[data-state=disconnected]", timeout=WAIT_MS)
        assert tab.inner_text("#live-state").startswith("disconnected — data may be stale · last update"), name
    tabs["orders"].screenshot(path=str(SHOTS / "orders-disconnected-1280.png"))

    # Meanwhile the desk goes on: the switch is reset, a new entry fills.
    in_a_thread(kill_switch_reset, desk)
    in_a_thread(entry_placed, desk, D("60600"))
    wait_until(lambda: in_a_thread(orders_settled, desk, 3), timeout=20, message="the new entry filled")

    # Back: every page resyncs by event id, no reload, no row twice.
    web.restart()
    for name, tab in tabs.items():
        tab.wait_for_selector("#live-state[data-state=live]", timeout=RECONNECT_MS)
        tab.wait_for_selector(".banner-halted", state="detached", timeout=WAIT_MS)
        assert never_reloaded(tab), name
    tabs["orders"].wait_for_function("() => document.querySelectorAll('#orders tr[data-order]').length === 3", timeout=WAIT_MS)
    shown = rows_of(tabs["orders"], "#orders tr[data-order]", "data-order")
    assert len(shown) == len(set(shown)) == 3
    tabs["positions"].wait_for_selector("#positions tr[data-position]", timeout=WAIT_MS)
    assert len(rows_of(tabs["positions"], "#positions tr[data-position]", "data-position")) == 1
    in_a_thread(books_agree, desk)

    assert watch.errors_besides_the_outage() == []
    assert watch.outside == []


def test_a_viewer_sees_the_pages_without_buttons_and_a_forged_close_is_refused_and_audited(desk, web, chromium):
    in_a_thread(entry_placed, desk)
    wait_until(lambda: in_a_thread(orders_settled, desk, 1), timeout=20, message="the entry filled")
    position = in_a_thread(open_position, desk)
    watch = Watch(web)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = watch.page(context)
    log_in(page, web.url, desk.viewer)

    for name, path in every_page(desk).items():
        page.goto(f"{web.url}{path}")
        page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
        assert page.locator("main form[method=post], main button.danger").count() == 0, name
    page.goto(f"{web.url}/positions/")
    assert page.locator(f"#position-{position.pk}").count() == 1

    forged = page.evaluate(
        """async (url) => {
            const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
            const body = new FormData();
            body.append("csrfmiddlewaretoken", token);
            const response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" } });
            return { status: response.status, body: await response.json() };
        }""",
        f"/positions/{position.pk}/close",
    )

    assert forged["status"] == 403 and forged["body"]["ok"] is False
    refused = in_a_thread(refused_closes, desk.viewer)
    assert len(refused) == 1 and refused[0].via == "page" and refused[0].object_id == str(position.pk)
    assert in_a_thread(open_position, desk).pk == position.pk
    assert in_a_thread(orders_settled, desk, 1)  # no close was sent
    forged_logged = f"status of 403 (Forbidden) {web.url}/positions/{position.pk}/close"
    assert [error for error in watch.errors_besides_the_outage() if forged_logged not in error] == []
    assert watch.outside == []
