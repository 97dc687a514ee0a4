"""What a trader sees of the holdings reconciliation, in Debian's Chromium against a real ASGI
server: the start gate's banner while entries wait, and a position sold on the exchange by hand
among the closed positions marked external_close. Screenshots land in /tmp/shots/truth/."""

from decimal import Decimal as D
from pathlib import Path

import pytest

from apps.exchanges.roles import role_groups_ensure
from apps.trading.holdings_gate import gates_close
from apps.trading.models import Position
from apps.trading.services.holdings import holdings_reconcile
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from tests.access import desk_user
from tests.simulated_exchange import trade_by_hand
from tests.trading.factories import signal_make, strategy_make
from tests.trading.sim import sim_desk
from tests.web.test_cockpit_browser import WAIT_MS, log_in, watched
from tests.web.test_market_page_browser import in_a_thread, server  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp/shots/truth")


def sell_by_hand_and_reconcile(sim, account, market, amount):
    from django.db import connection

    try:
        trade_by_hand(sim, market.symbol, "sell", amount)
        holdings_reconcile(account_id=account.pk)
    finally:
        connection.close()


@pytest.fixture
def sim_desk_seeded(sim):
    """Before the browser starts (Django refuses ORM calls beside Playwright's loop)."""
    role_groups_ensure()
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"), stop_loss_pct=D("5"), name="btc trend")
    holdings_reconcile(account_id=account.pk)
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    order_submit(order_id=order.pk)
    position = Position.objects.select_related("market").get(account=account, market=market)
    position.selling = position.tradable_amount
    trader = desk_user("tina", role="trader", accounts=[account])
    gates_close(reason="a worker started at 12:00:00 UTC")
    return account, market, position, trader


def test_the_gate_banner_and_a_position_closed_outside_the_desk(sim, sim_desk_seeded, server, chromium):  # noqa: F811 - the fixture
    SHOTS.mkdir(parents=True, exist_ok=True)
    account, market, position, trader = sim_desk_seeded

    errors = []
    page = watched(chromium.new_page(viewport={"width": 1280, "height": 800}), errors)
    log_in(page, server.url, trader)
    banner = page.locator(".banner-reconciling")
    assert "new entries wait — reconciling with the exchange: a worker started" in banner.inner_text()
    page.screenshot(path=str(SHOTS / "gate-banner-1280.png"), full_page=True)

    in_a_thread(sell_by_hand_and_reconcile, sim, account, market, position.selling)  # the ORM, off the page's loop
    page.goto(f"{server.url}/positions/?tab=closed")
    row = page.locator(f"#position-{position.pk}")
    row.wait_for(timeout=WAIT_MS)
    assert "external_close" in row.inner_text()
    assert page.locator(".banner-reconciling").count() == 0  # the reconciliation opened the gate
    page.screenshot(path=str(SHOTS / "closed-external-1280.png"), full_page=True)
    assert not errors, errors
