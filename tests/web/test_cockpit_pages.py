"""The cockpit pages with the Django test client: what each role sees, the actions through the
services (a paper account's real pipeline), refusals answered 403/404 and audited."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone as dj_timezone

from apps.common.models import AuditEntry
from apps.risk.models import KillSwitch, RiskEvent
from apps.strategies.models import Strategy
from apps.trading.models import Order, OrderEvent, PortfolioSnapshot, Position, Signal
from apps.trading.services.placement import signal_execute
from tests.access import desk_make, desk_user
from tests.trading.factories import account_make, fresh_market, price_set, signal_make, strategy_make

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/markets/",
    "/positions/",
    "/positions/?tab=closed",
    "/orders/",
    "/signals/",
    "/risk/",
    "/performance/",
    "/goals/",
    "/data/",
]
ACTION_FORMS = ('/close"', '/flatten"', '/cancel"', '/acknowledge"', '/kill-switch"', '/status"', '/promote"')


@pytest.fixture
def desk():
    return desk_make()


@pytest.fixture
def viewer(desk):
    return desk_user("victor", role="viewer", accounts=[desk.ours.account])


@pytest.fixture
def trader(desk):
    return desk_user("tina", role="trader", accounts=[desk.ours.account])


@pytest.fixture
def paper(django_capture_on_commit_callbacks, eager_tasks):
    """A paper account holding 10 BTC bought at 100 through the pipeline, and its trader."""
    account = account_make(name="paper", fee_rate=D("0.001"))
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    with django_capture_on_commit_callbacks(execute=True):
        signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    position = Position.objects.get(account=account, market=market)
    assert position.amount == D("10")
    return account, market, position, desk_user("tina", role="trader", accounts=[account])


@pytest.mark.parametrize("url", PAGES)
def test_every_page_opens_for_a_member_in_the_one_layout(client, desk, viewer, url):
    client.force_login(viewer)

    content = client.get(url).content.decode()

    assert 'class="topnav"' in content and 'id="desk-banners"' in content and 'id="live-state"' in content
    assert 'id="desk-live"' in content  # the page's socket topics, as json_script (no inline script)


def test_anonymous_visitors_are_sent_to_log_in_from_every_page(client):
    for url in PAGES:
        assert client.get(url)["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("url", ["/positions/", "/orders/", "/risk/"])
def test_a_viewer_sees_the_rows_but_no_action_button(client, desk, viewer, url):
    client.force_login(viewer)

    content = client.get(url).content.decode()

    assert "ours" in content
    assert not [form for form in ACTION_FORMS if form in content]


def test_a_trader_sees_close_flatten_cancel_acknowledge_and_kill_switch_buttons(client, desk, trader):
    client.force_login(trader)

    positions = client.get("/positions/").content.decode()
    orders = client.get("/orders/").content.decode()
    risk = client.get("/risk/").content.decode()

    assert f"/positions/{desk.ours.position.pk}/close" in positions and f"/accounts/{desk.ours.account.pk}/flatten" in positions
    assert f"/orders/{desk.ours.order.pk}/cancel" in orders
    assert f"/risk/events/{desk.ours.risk_event.pk}/acknowledge" in risk
    assert f"/accounts/{desk.ours.account.pk}/kill-switch" in risk
    assert "admins only" in risk  # the global switch is an admin's


def test_no_page_shows_another_accounts_rows(client, desk, trader):
    client.force_login(trader)

    for url in PAGES:
        content = client.get(url).content.decode()
        assert "theirs" not in content and "98765.43" not in content, url


def test_a_forged_close_by_a_viewer_is_refused_403_and_audited_as_refused(client, desk, viewer):
    client.force_login(viewer)

    response = client.post(f"/positions/{desk.ours.position.pk}/close", {"reason": "forged"})

    assert response.status_code == 403
    assert "needs the trader role" in response.content.decode()
    [entry] = AuditEntry.objects.filter(action="position.close")
    assert (entry.outcome, entry.via, entry.who) == ("refused", "page", viewer)
    assert Order.objects.filter(account=desk.ours.account).count() == 1  # nothing placed


def test_closing_a_strangers_position_is_not_found(client, desk, trader):
    client.force_login(trader)

    response = client.post(f"/positions/{desk.theirs.position.pk}/close", headers={"accept": "application/json"})

    assert response.status_code == 404
    assert response.json() == {"ok": False, "message": f"no position #{desk.theirs.position.pk} on your accounts"}
    assert AuditEntry.objects.get(action="position.close").outcome == "refused"


def test_a_strangers_strategy_page_is_not_found(client, desk, trader):
    client.force_login(trader)

    assert client.get(f"/strategies/{desk.theirs.strategy.pk}/").status_code == 404
    assert client.get(f"/strategies/{desk.ours.strategy.pk}/").status_code == 200


def test_a_trader_closes_a_position_from_the_page_through_the_pipeline(client, paper, django_capture_on_commit_callbacks):
    account, market, position, trader = paper
    price_set(market, D("110"))
    client.force_login(trader)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/positions/{position.pk}/close", headers={"accept": "application/json"})

    assert response.status_code == 200, response.content
    assert "sell 10 BTC at market" in response.json()["message"]
    close = Order.objects.get(account=account, side="sell")
    assert (close.status, close.amount, close.average_price) == ("filled", D("10"), D("110"))
    assert close.signal.source == Signal.Source.OPERATOR
    position.refresh_from_db()
    assert position.amount == 0
    entry = AuditEntry.objects.get(action="position.close")
    assert (entry.outcome, entry.via, entry.who) == ("done", "page", trader)
    closed_tab = client.get("/positions/?tab=closed").content.decode()
    assert f'id="position-{position.pk}"' in closed_tab
    assert f'id="position-{position.pk}"' not in client.get("/positions/").content.decode()
    assert close.client_order_id in client.get("/orders/").content.decode()


def test_closing_again_is_a_conflict_told_in_words(client, paper, django_capture_on_commit_callbacks):
    account, market, position, trader = paper
    client.force_login(trader)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/positions/{position.pk}/close")

    response = client.post(f"/positions/{position.pk}/close", headers={"accept": "application/json"})

    assert response.status_code == 409
    assert "is already closed" in response.json()["message"]


def test_a_trader_flattens_an_account_from_the_page(client, paper, django_capture_on_commit_callbacks):
    account, market, position, trader = paper
    client.force_login(trader)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/accounts/{account.pk}/flatten", follow=True)

    assert "1 position closing" in response.content.decode()
    position.refresh_from_db()
    assert position.amount == 0


def test_a_trader_cancels_a_new_order_from_the_orders_page(client, desk, trader):
    client.force_login(trader)

    response = client.post(f"/orders/{desk.ours.order.pk}/cancel", headers={"accept": "application/json"})

    assert response.status_code == 200
    desk.ours.order.refresh_from_db()
    assert desk.ours.order.status == "canceled"
    assert AuditEntry.objects.get(action="order.cancel").via == "page"


def test_a_trader_acknowledges_a_risk_event_and_the_count_in_the_navigation_drops(client, desk, trader):
    client.force_login(trader)
    before = client.get("/risk/").content.decode()
    assert 'aria-label="2 unacknowledged risk events"' in before  # ours + the desk-wide one

    response = client.post(f"/risk/events/{desk.ours.risk_event.pk}/acknowledge", headers={"accept": "application/json"})

    assert response.status_code == 200
    desk.ours.risk_event.refresh_from_db()
    assert desk.ours.risk_event.acknowledged_by == trader and desk.ours.risk_event.acknowledged_at is not None
    assert 'aria-label="1 unacknowledged risk events"' in client.get("/risk/").content.decode()
    assert AuditEntry.objects.get(action="risk_event.acknowledge").outcome == "done"
    again = client.post(f"/risk/events/{desk.ours.risk_event.pk}/acknowledge", headers={"accept": "application/json"})
    assert again.status_code == 409 and "already acknowledged by tina" in again.json()["message"]


def test_a_viewer_may_not_acknowledge_and_the_refusal_is_audited(client, desk, viewer):
    client.force_login(viewer)

    response = client.post(f"/risk/events/{desk.ours.risk_event.pk}/acknowledge")

    assert response.status_code == 403
    assert AuditEntry.objects.get(action="risk_event.acknowledge").outcome == "refused"
    desk.ours.risk_event.refresh_from_db()
    assert desk.ours.risk_event.acknowledged_at is None


def test_a_halted_kill_switch_set_from_the_risk_page_shows_its_banner_on_every_page(client, desk, trader):
    client.force_login(trader)

    response = client.post(
        f"/accounts/{desk.ours.account.pk}/kill-switch",
        {"state": "halted", "reason": "exchange outage"},
        headers={"accept": "application/json"},
    )

    assert response.status_code == 200
    assert KillSwitch.objects.get(account=desk.ours.account).state == "halted"
    for url in PAGES:
        content = client.get(url).content.decode()
        assert "banner-halted" in content and "Account ours is HALTED" in content and "exchange outage" in content, url


def test_the_stale_data_banner_names_the_first_five_stale_collectors_and_counts_the_others(client, desk, viewer):
    from apps.markets.models import CollectorStatus, Market

    exchange, now = desk.ours.order.market.exchange, dj_timezone.now()

    def collector(symbol: str, opened_minutes_ago: float | None, *, active: bool = True, timeframe: str = "1m"):
        market = Market.objects.create(exchange=exchange, symbol=symbol, base=symbol.split("/")[0], quote="USDT")
        opened = None if opened_minutes_ago is None else now - timedelta(minutes=opened_minutes_ago)
        CollectorStatus.objects.create(market=market, timeframe=timeframe, last_candle_time=opened, active=active)

    for letter in "GFEDC":  # named in order of market, whatever the order they were made in
        collector(f"{letter}/USDT", 3.5)  # its candle closed 2.5 periods ago: stale
    collector("H/USDT", None)  # nothing stored yet: stale
    collector("I/USDT", 2.5)  # closed 1.5 periods ago: still fresh
    collector("J/USDT", 40, timeframe="15m")  # a 15m candle closed 25 minutes ago: still fresh
    collector("K/USDT", 60, active=False)  # switched off: not the desk's worry
    client.force_login(viewer)

    content = client.get("/orders/").content.decode()

    assert "Market data stale: C/USDT 1m, D/USDT 1m, E/USDT 1m, F/USDT 1m, G/USDT 1m and 1 more" in content
    assert "I/USDT" not in content and "J/USDT" not in content and "K/USDT" not in content


def test_the_global_kill_switch_is_refused_to_a_trader_with_a_403(client, desk, trader):
    client.force_login(trader)

    response = client.post("/risk/kill-switch", {"state": "halted"})

    assert response.status_code == 403
    assert KillSwitch.objects.get(account=None).state == "active"
    assert AuditEntry.objects.get(action="kill_switch.set").outcome == "refused"


def test_a_bad_kill_switch_state_is_answered_in_words(client, desk, trader):
    client.force_login(trader)

    response = client.post(
        f"/accounts/{desk.ours.account.pk}/kill-switch", {"state": "off"}, headers={"accept": "application/json"}
    )

    assert response.status_code == 400
    assert "choose one of active, reduce_only, halted" in response.json()["message"]


def test_the_global_halt_set_elsewhere_shows_on_a_viewers_pages(client, desk, viewer):
    KillSwitch.objects.filter(account=None).update(state="halted", reason="desk closed")
    client.force_login(viewer)

    assert "The whole desk is HALTED" in client.get("/orders/").content.decode()


def test_a_trader_pauses_a_strategy_from_its_page(client, desk, trader):
    client.force_login(trader)
    Strategy.objects.filter(pk=desk.ours.strategy.pk).update(status="running")

    response = client.post(
        f"/strategies/{desk.ours.strategy.pk}/status", {"status": "paused"}, headers={"accept": "application/json"}
    )

    assert response.status_code == 200
    assert Strategy.objects.get(pk=desk.ours.strategy.pk).status == "paused"
    assert AuditEntry.objects.get(action="strategy.status_set").via == "page"


def test_the_orders_page_shows_slippage_in_quote_and_percent_and_the_latency(client, desk, trader):
    order = desk.ours.order  # buy 0.5 asked at 100
    Order.objects.filter(pk=order.pk).update(status="filled", filled=D("0.5"), average_price=D("100.2"), signal=desk.ours.signal)
    Signal.objects.filter(pk=desk.ours.signal.pk).update(created_at=dj_timezone.now() - timedelta(seconds=1))
    ack = OrderEvent.objects.create(order=order, from_status="submitting", to_status="open", cause="booked")
    OrderEvent.objects.filter(pk=ack.pk).update(
        created_at=Signal.objects.get(pk=desk.ours.signal.pk).created_at + timedelta(milliseconds=245)
    )
    client.force_login(trader)

    content = client.get("/orders/").content.decode()

    # bought 0.2 dearer than asked on 0.5: 0.10 quote, 0.2 %
    assert ">0.10<" in content and ">0.200%<" in content
    assert ">245 ms<" in content


def test_the_orders_page_shows_a_rejections_reason_and_filters_by_status(client, desk, trader):
    Order.objects.filter(pk=desk.ours.order.pk).update(status="rejected", reason="Account has insufficient balance")
    client.force_login(trader)

    rejected = client.get("/orders/?status=rejected").content.decode()
    filled = client.get("/orders/?status=filled").content.decode()

    assert "Account has insufficient balance" in rejected and "ours-order-1" in rejected
    assert "ours-order-1" not in filled


def test_bad_order_filters_are_answered_400_with_every_bad_field(client, desk, trader):
    client.force_login(trader)

    response = client.get("/orders/?status=nonsense&account=x&day=31/01/2025")

    assert response.status_code == 400
    content = response.content.decode()
    assert "status:" in content and "account:" in content and "Use a date like 2025-01-31." in content


def test_the_signals_page_shows_indicators_the_risk_decision_and_its_checks(client, desk, trader):
    Signal.objects.filter(pk=desk.ours.signal.pk).update(indicators={"ema_fast": 101.5, "ema_slow": 99.25})
    RiskEvent.objects.filter(pk=desk.ours.risk_event.pk).update(
        checks=[{"rule": "daily_loss", "passed": False, "detail": "loss 5.1% over the 5% limit"}]
    )
    client.force_login(trader)

    content = client.get("/signals/").content.decode()

    assert "ema_fast = 101.5" in content and "ema_slow = 99.25" in content
    assert "daily_loss: loss 5.1% over the 5% limit" in content and "Rejected" in content


def test_the_desk_shows_todays_pnl_against_the_last_snapshot_before_midnight(client, desk, trader):
    today = dj_timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    PortfolioSnapshot.objects.filter(account=desk.ours.account).delete()
    for at, equity in [(today - timedelta(hours=2), D("1000")), (today + timedelta(minutes=1), D("1010"))]:
        PortfolioSnapshot.objects.create(
            account=desk.ours.account,
            taken_at=at,
            equity=equity,
            cash=equity,
            positions_value=0,
            realized_pnl=0,
            unrealized_pnl=0,
        )
    client.force_login(trader)

    content = client.get("/").content.decode()

    assert "▲ +10.00" in content and "1010.00" in content
