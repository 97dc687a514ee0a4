"""The audit trail seen from the admin: edits of accounts (secrets masked), strategies, risk
limits and kill switches are recorded with who, before and after; the operator actions are
there with clear messages; the trail itself is read-only."""

import json
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages

from apps.common.audit import Via, audit_record
from apps.common.models import AuditEntry
from apps.risk.models import KillSwitch, RiskLimits
from apps.strategies.models import Strategy
from apps.trading.models import Order, Position
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from tests.trading.factories import (
    account_make,
    fresh_market,
    signal_make,
    strategy_make,
)
from tests.trading.people import people_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


def staff(user: User, *codenames: str) -> User:
    """Lets a user into the admin pages these tests use (the roles' permissions are the access
    work's; here only the services' own checks are under test)."""
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def shown(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_audit_trail_cannot_be_added_to_changed_or_deleted_in_the_admin(admin_client, admin_user):
    entry = audit_record(actor=admin_user, via=Via.ADMIN, action="admin.change", object_type="x.y", object_id=1)

    assert admin_client.get("/admin/common/auditentry/").status_code == 200
    assert admin_client.get("/admin/common/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/common/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    page = admin_client.get(f"/admin/common/auditentry/{entry.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    admin_client.post(f"/admin/common/auditentry/{entry.pk}/change/", {"action": "admin.delete"})
    assert AuditEntry.objects.get().action == "admin.change"


def test_an_account_edit_is_audited_without_its_secrets(admin_client, admin_user):
    account = account_make(name="paper")
    account.api_secret = "old-secret-never-shown"
    account.save()

    response = admin_client.post(
        f"/admin/exchanges/exchangeaccount/{account.pk}/change/",
        {
            "name": "paper two",
            "exchange": account.exchange_id,
            "mode": "paper",
            "api_key": "",
            "api_secret": "new-secret-never-shown",
            "base_url": "",
            "active": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get()
    assert (entry.who, entry.via, entry.action, entry.object_id) == (admin_user, "admin", "admin.change", str(account.pk))
    assert entry.before == {"name": "paper", "api_secret": "••••"}
    assert entry.after == {"name": "paper two", "api_secret": "(replaced)"}
    stored = json.dumps([entry.before, entry.after, entry.object_repr])
    assert "secret-never-shown" not in stored and "k" * 16 not in stored


def test_a_strategy_edit_is_audited_with_its_markets(admin_client):
    account = account_make()
    market, ether = fresh_market(), fresh_market(symbol="ETH/USDT")
    strategy = strategy_make(
        account=account,
        markets=[market],
        kind="ema_cross",
        params={"fast": 9, "slow": 21, "allow_short": False},
        allocation=D("100"),
        status=Strategy.Status.STOPPED,
    )

    response = admin_client.post(
        f"/admin/strategies/strategy/{strategy.pk}/change/",
        {
            "name": strategy.name,
            "kind": "ema_cross",
            "params": '{"fast": 9, "slow": 21}',
            "account": account.pk,
            "markets": [market.pk, ether.pk],
            "timeframe": "1m",
            "allocation_type": "quote",
            "allocation_value": "250",
        },
    )

    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get()
    assert entry.before == {"allocation_value": "100", "markets": [market.pk]}
    assert entry.after == {"allocation_value": "250", "markets": sorted([market.pk, ether.pk])}


def test_risk_limits_added_changed_and_deleted_in_the_admin_are_audited(admin_client):
    account = account_make()
    admin_client.post("/admin/risk/risklimits/add/", {"account": account.pk, "max_open_positions": "3"})
    limits = RiskLimits.objects.get()
    admin_client.post(f"/admin/risk/risklimits/{limits.pk}/change/", {"account": account.pk, "max_open_positions": "5"})
    admin_client.post(f"/admin/risk/risklimits/{limits.pk}/delete/", {"post": "yes"})

    added, changed, deleted = AuditEntry.objects.order_by("id")
    assert (added.action, added.before, added.after["max_open_positions"]) == ("admin.add", None, 3)
    assert (changed.before, changed.after) == ({"max_open_positions": 3}, {"max_open_positions": 5})
    assert (deleted.action, deleted.before["max_open_positions"], deleted.after) == ("admin.delete", 5, None)
    assert not RiskLimits.objects.exists()


def test_a_trader_halts_the_accounts_kill_switch_from_the_admin_and_a_viewer_is_refused(client):
    account = account_make()
    people = people_make(account)
    switch = KillSwitch.objects.create(account=account)

    client.force_login(staff(people["viewer"], "view_killswitch", "change_killswitch"))
    refused = client.post("/admin/risk/killswitch/", {"action": "set_halted", "_selected_action": [switch.pk]}, follow=True)
    client.force_login(staff(people["trader"], "view_killswitch", "change_killswitch"))
    done = client.post("/admin/risk/killswitch/", {"action": "set_halted", "_selected_action": [switch.pk]}, follow=True)

    # The viewer's role lacks risk.set_kill_switch: the admin does not offer the action, so a
    # forged POST changes nothing (the service would refuse it too: tests/risk), and is audited.
    assert "1 kill switch set to HALTED." not in shown(refused)
    assert "1 kill switch set to HALTED." in shown(done)
    assert KillSwitch.objects.get().state == "halted"
    no = AuditEntry.objects.get(outcome="refused")
    assert (no.who, no.via, no.action, no.object_id) == (people["viewer"], "admin", "admin.set_halted", str(switch.pk))
    yes = AuditEntry.objects.get(outcome="done")
    assert (yes.who, yes.outcome, yes.before["state"], yes.after["state"]) == (people["trader"], "done", "active", "halted")


def test_a_strategy_started_from_the_admin_is_audited(admin_client, admin_user):
    strategy = strategy_make(account=account_make(), markets=[fresh_market()], status=Strategy.Status.STOPPED)

    admin_client.post("/admin/strategies/strategy/", {"action": "start", "_selected_action": [strategy.pk]})

    entry = AuditEntry.objects.get()
    assert (entry.who, entry.via, entry.action, entry.before, entry.after) == (
        admin_user,
        "admin",
        "strategy.status_set",
        {"status": "stopped"},
        {"status": "running"},
    )


@pytest.fixture
def held(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    with django_capture_on_commit_callbacks(execute=True):
        signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    return account, market, Position.objects.get(account=account)


def test_positions_close_from_the_admin_with_a_message_per_position(admin_client, held, django_capture_on_commit_callbacks):
    account, market, position = held

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/trading/position/", {"action": "close", "_selected_action": [position.pk]})
    again = admin_client.post("/admin/trading/position/", {"action": "close", "_selected_action": [position.pk]}, follow=True)

    sell = Order.objects.get(side="sell")
    assert any(f"sell 10 BTC at market, order {sell.client_order_id}" in text for text in shown(response))
    assert any("is already closed" in text for text in shown(again))
    assert sell.status == "filled" and Position.objects.get().amount == 0
    assert list(AuditEntry.objects.order_by("id").values_list("via", "outcome")) == [("admin", "done"), ("admin", "refused")]


def test_an_order_canceled_and_an_account_flattened_from_the_admin(admin_client, held, django_capture_on_commit_callbacks):
    account, market, position = held
    bid = Order.objects.create(
        account=account,
        market=market,
        client_order_id="paper-bid",
        side="buy",
        type=Order.Type.LIMIT,
        price=D("90"),
        amount=D("1"),
    )
    order_submit(order_id=bid.pk)

    canceled = admin_client.post("/admin/trading/order/", {"action": "cancel", "_selected_action": [bid.pk]}, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        flattened = admin_client.post(
            "/admin/exchanges/exchangeaccount/", {"action": "flatten", "_selected_action": [account.pk]}
        )

    assert "paper-bid: canceled" in shown(canceled)
    assert "paper flattened: 0 orders canceled, 1 position closing" in shown(flattened)
    assert Position.objects.get().amount == 0
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "order.cancel",
        "position.close",
        "account.flatten",
    ]
