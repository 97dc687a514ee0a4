"""The cockpit in Debian's Chromium against a real ASGI server on this test's database (the
relay in process, tasks in place, a paper account): a trader closes a position with the button
and watches the row leave /positions/ and the close order appear on /orders/ in another tab,
without a reload; a HALTED switch set elsewhere shows on the open pages. Screenshots of each
page at 1280 px and 390 px land in /tmp/cockpit-shots/."""

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from apps.exchanges.roles import role_groups_ensure
from apps.risk.services import kill_switch_set
from apps.trading.models import Order, PortfolioSnapshot, Position
from apps.trading.services.placement import signal_execute
from tests.access import PASSWORD, desk_user
from tests.trading.factories import account_make, fresh_market, signal_make, strategy_make
from tests.web.test_market_page_browser import in_a_thread, server  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/cockpit-shots")
WAIT_MS = 15000
PAGES = {
    "desk": "/",
    "positions": "/positions/",
    "orders": "/orders/",
    "signals": "/signals/",
    "risk": "/risk/",
    "performance": "/performance/",
    "markets": "/markets/",
}


@pytest.fixture
def paper_desk(eager_tasks):
    role_groups_ensure()
    account = account_make(name="paper", fee_rate=D("0.001"))
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"), name="paper ema")
    signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)  # autocommit: the submit runs in place
    position = Position.objects.get(account=account, market=market)
    assert position.amount == D("10")
    trader = desk_user("tina", role="trader", accounts=[account])
    snapshots_seed(account)
    return account, market, strategy, position, trader


def snapshots_seed(account) -> None:
    """A week of hourly equity, so the desk and the performance page have a curve to show."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    equity = D("10000")
    for hour in range(24 * 7, -1, -1):
        equity += D((hour * 37) % 23 - 10)
        PortfolioSnapshot.objects.create(
            account=account,
            taken_at=now - timedelta(hours=hour),
            equity=equity,
            cash=equity,
            positions_value=0,
            realized_pnl=0,
            unrealized_pnl=0,
        )


def watched(page, errors: list):
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(f"{message.text} {message.location.get('url', '')}") if message.type == "error" else None,
    )
    return page


def log_in(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)


def halt_the_account(account):
    try:
        kill_switch_set(actor=None, account=account, state="halted", reason="set in another tab")
    finally:
        connection.close()


def test_a_trader_closes_a_position_with_the_button_and_sees_it_move_live(paper_desk, server, chromium):  # noqa: F811 - `server` is the fixture of that name, imported above
    account, market, strategy, position, trader = paper_desk
    errors: list = []
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    positions_page = watched(context.new_page(), errors)
    log_in(positions_page, server.url, trader)
    positions_page.goto(f"{server.url}/positions/")
    positions_page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
    row = positions_page.locator(f"#position-{position.pk}")
    assert "10" in row.locator("td[data-label=Amount]").inner_text()
    orders_page = watched(context.new_page(), errors)
    orders_page.goto(f"{server.url}/orders/")
    orders_page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
    assert orders_page.locator("#orders tr[data-order]").count() == 1  # the entry

    SHOTS.mkdir(parents=True, exist_ok=True)
    positions_page.screenshot(path=str(SHOTS / "positions-open-1280.png"), full_page=True)
    dialogs = []
    positions_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    positions_page.click(f"#position-{position.pk} button[type=submit]")

    positions_page.wait_for_selector(f"#position-{position.pk}", state="detached", timeout=WAIT_MS)
    assert dialogs and dialogs[0].startswith("Close BTC/USDT on paper?")
    assert "sell 10 BTC at market" in positions_page.inner_text("#flash")
    orders_page.wait_for_function("() => document.querySelectorAll('#orders tr[data-order]').length === 2", timeout=WAIT_MS)
    close = in_a_thread(lambda: _close_order(account))
    assert close.status == "filled"
    assert orders_page.locator(f"#orders tr[data-order='{close.client_order_id}'] .badge").inner_text() == "Filled"
    assert orders_page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # never reloaded
    positions_page.goto(f"{server.url}/positions/?tab=closed")
    assert positions_page.locator(f"#position-{position.pk}").count() == 1

    in_a_thread(halt_the_account, account)
    orders_page.wait_for_selector(".banner-halted", timeout=WAIT_MS)
    assert "Account paper is HALTED" in orders_page.inner_text("#desk-banners")

    shots = context.new_page()
    watched(shots, errors)
    for width in (1280, 390):
        shots.set_viewport_size({"width": width, "height": 900})
        for name, url in {**PAGES, "strategy": f"/strategies/{strategy.pk}/", "market": f"/markets/{market.pk}/?tf=1m"}.items():
            shots.goto(f"{server.url}{url}")
            shots.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
            shots.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)

    server.stop()  # the desk goes away: every open page says its data may be stale, and since when

    orders_page.wait_for_selector("#live-state[data-state=disconnected]", timeout=WAIT_MS)
    assert orders_page.inner_text("#live-state").startswith("disconnected — data may be stale · last update")
    orders_page.screenshot(path=str(SHOTS / "orders-disconnected-1280.png"))
    assert [error for error in errors if "ERR_CONNECTION_REFUSED" not in error] == []


def _close_order(account) -> Order:
    try:
        return Order.objects.get(account=account, side="sell")
    finally:
        connection.close()
