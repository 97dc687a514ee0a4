"""The admin by role and membership: a user reads and acts on its accounts only, a row of
another account is a 404, an action its role does not allow is a 403 (also when forged)."""

import pytest
from django.urls import reverse

from apps.common.models import AuditEntry
from apps.exchanges.models import AccountMembership, ExchangeAccount
from apps.risk.models import KillSwitch
from apps.strategies.models import Strategy
from tests.access import PASSWORD, desk_make, desk_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    return desk_make()


@pytest.fixture
def viewer(desk):
    return desk_user("viewer", role="viewer", accounts=[desk.ours.account])


@pytest.fixture
def trader(desk):
    return desk_user("trader", role="trader", accounts=[desk.ours.account])


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_page(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def action_post(client, model, action: str, *objects):
    return client.post(changelist(model), {"action": action, "index": 0, "_selected_action": [o.pk for o in objects]})


# Every account-scoped admin list, and what one row of each account shows there.
SCOPED_LISTS = {
    "orders": lambda d: d.order,
    "positions": lambda d: d.position,
    "strategies": lambda d: d.strategy,
    "kill switches": lambda d: d.kill_switch,
    "risk limits": lambda d: d.limits,
    "signals": lambda d: d.signal,
    "risk events": lambda d: d.risk_event,
    "exchange accounts": lambda d: d.account,
    "portfolio snapshots": lambda d: d.account.snapshots.get(),
    "balances": lambda d: d.account.balances.get(),
    "paper settings": lambda d: d.account.paper_settings,
}


@pytest.mark.parametrize("what", SCOPED_LISTS)
def test_a_viewer_lists_only_its_accounts_rows_in_every_account_scoped_admin(client, desk, viewer, what):
    ours, theirs = SCOPED_LISTS[what](desk.ours), SCOPED_LISTS[what](desk.theirs)
    client.force_login(viewer)

    page = client.get(changelist(type(ours)))

    assert page.status_code == 200
    shown = list(page.context["cl"].result_list)
    assert ours in shown and theirs not in shown
    assert "theirs" not in page.content.decode()  # nor in a filter's choices


@pytest.mark.parametrize("what", SCOPED_LISTS)
def test_a_row_of_another_account_is_a_404_by_url_and_its_own_opens(client, desk, viewer, what):
    client.force_login(viewer)

    assert client.get(change_page(SCOPED_LISTS[what](desk.ours))).status_code == 200
    assert client.get(change_page(SCOPED_LISTS[what](desk.theirs))).status_code == 404


def test_a_viewer_sees_desk_wide_risk_events_and_limits_which_act_on_its_accounts_too(client, desk, viewer):
    from apps.risk.models import RiskEvent, RiskLimits

    desk_wide = RiskLimits.objects.create()
    client.force_login(viewer)

    events = client.get(changelist(RiskEvent)).context["cl"].result_list
    limits = client.get(changelist(RiskLimits)).context["cl"].result_list

    assert set(events) == {desk.ours.risk_event, desk.global_event}
    assert set(limits) == {desk.ours.limits, desk_wide}


def test_a_viewer_reads_its_order_but_cannot_change_it(client, desk, viewer):
    client.force_login(viewer)

    page = client.get(change_page(desk.ours.order))

    assert page.status_code == 200 and desk.ours.order.client_order_id in page.content.decode()
    assert not page.context["has_change_permission"]


def test_fills_and_evaluations_reach_their_account_through_the_order_and_the_strategy(client, desk, viewer):
    from apps.markets.models import Market
    from apps.strategies.models import StrategyEvaluation
    from apps.trading.models import Fill

    market = Market.objects.get()
    for data in (desk.ours, desk.theirs):
        Fill.objects.create(
            order=data.order, venue_trade_id=f"{data.account.name}-t1", price=100, amount="0.5", traded_at=data.order.created_at
        )
        StrategyEvaluation.objects.create(
            strategy=data.strategy,
            market=market,
            candle_time=data.order.created_at,
            outcome=StrategyEvaluation.Outcome.NOTHING,
            duration_ms=1,
        )
    client.force_login(viewer)

    fills = client.get(changelist(Fill)).context["cl"].result_list
    evaluations = client.get(changelist(StrategyEvaluation)).context["cl"].result_list

    assert [f.venue_trade_id for f in fills] == ["ours-t1"]
    assert [e.strategy for e in evaluations] == [desk.ours.strategy]


def test_a_viewer_cannot_start_a_strategy_the_action_is_absent_and_a_forged_post_is_refused(client, desk, viewer):
    client.force_login(viewer)

    page = client.get(changelist(Strategy))
    forged = action_post(client, Strategy, "start", desk.ours.strategy)

    assert 'value="start"' not in page.content.decode()
    assert forged.status_code == 403
    desk.ours.strategy.refresh_from_db()
    assert desk.ours.strategy.status == Strategy.Status.STOPPED
    refused = AuditEntry.objects.get(who=viewer, outcome="refused")
    assert (refused.via, refused.action, refused.object_type) == ("admin", "admin.start", "strategies.strategy")
    assert refused.object_id == str(desk.ours.strategy.pk) and "may not run 'start'" in refused.reason


def test_a_viewer_cannot_flip_the_kill_switch(client, desk, viewer):
    client.force_login(viewer)

    by_action = action_post(client, KillSwitch, "set_halted", desk.ours.kill_switch)
    by_form = client.post(change_page(desk.ours.kill_switch), {"account": desk.ours.account.pk, "state": "halted"})

    assert by_action.status_code == by_form.status_code == 403
    desk.ours.kill_switch.refresh_from_db()
    assert desk.ours.kill_switch.state == "active"


def test_a_trader_starts_and_stops_a_strategy_of_its_account(client, desk, trader):
    client.force_login(trader)

    started = action_post(client, Strategy, "start", desk.ours.strategy)
    desk.ours.strategy.refresh_from_db()
    assert started.status_code == 302 and desk.ours.strategy.status == Strategy.Status.RUNNING

    action_post(client, Strategy, "stop", desk.ours.strategy)
    desk.ours.strategy.refresh_from_db()
    assert desk.ours.strategy.status == Strategy.Status.STOPPED


def test_a_trader_cannot_start_a_strategy_of_another_account(client, desk, trader):
    client.force_login(trader)

    action_post(client, Strategy, "start", desk.theirs.strategy)

    desk.theirs.strategy.refresh_from_db()
    assert desk.theirs.strategy.status == Strategy.Status.STOPPED


def test_a_trader_may_not_edit_a_strategys_params_only_its_status(client, desk, trader):
    client.force_login(trader)

    page = client.get(change_page(desk.ours.strategy))
    edit = client.post(change_page(desk.ours.strategy), {"name": "renamed", "kind": "test_kind"})

    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert edit.status_code == 403
    desk.ours.strategy.refresh_from_db()
    assert desk.ours.strategy.name == "ours ema"


def test_a_trader_halts_its_accounts_kill_switch(client, desk, trader):
    client.force_login(trader)

    response = action_post(client, KillSwitch, "set_halted", desk.ours.kill_switch)

    desk.ours.kill_switch.refresh_from_db()
    assert response.status_code == 302 and desk.ours.kill_switch.state == "halted"


def test_a_trader_cannot_halt_another_accounts_kill_switch(client, desk, trader):
    client.force_login(trader)

    action_post(client, KillSwitch, "set_halted", desk.theirs.kill_switch)
    by_form = client.post(change_page(desk.theirs.kill_switch), {"account": desk.theirs.account.pk, "state": "halted"})

    assert by_form.status_code == 404
    desk.theirs.kill_switch.refresh_from_db()
    assert desk.theirs.kill_switch.state == "active"


def test_a_trader_sees_the_global_kill_switch_but_only_a_superuser_sets_it(client, desk, trader):
    client.force_login(trader)

    listed = client.get(changelist(KillSwitch)).context["cl"].result_list
    by_action = action_post(client, KillSwitch, "set_halted", desk.global_switch)
    by_form = client.post(change_page(desk.global_switch), {"account": "", "state": "halted"})

    assert desk.global_switch in listed
    assert by_action.status_code == by_form.status_code == 403
    desk.global_switch.refresh_from_db()
    assert desk.global_switch.state == "active"
    refused = AuditEntry.objects.filter(who=trader, outcome="refused", action="admin.set_halted").get()
    assert refused.object_id == str(desk.global_switch.pk) and refused.reason.startswith("Not yours to change")


def test_a_trader_cannot_create_a_global_kill_switch_nor_one_for_another_account(client, desk, trader):
    KillSwitch.objects.filter(account=desk.ours.account).delete()
    client.force_login(trader)
    add = reverse("admin:risk_killswitch_add")

    global_one = client.post(add, {"account": "", "state": "halted"})
    theirs = client.post(add, {"account": desk.theirs.account.pk, "state": "halted"})
    ours = client.post(add, {"account": desk.ours.account.pk, "state": "halted"})

    assert global_one.status_code == 200 and "This field is required" in global_one.content.decode()
    assert theirs.status_code == 200 and "Select a valid choice" in theirs.content.decode()
    assert ours.status_code == 302 and KillSwitch.objects.get(account=desk.ours.account).state == "halted"
    assert KillSwitch.objects.filter(account__isnull=True).get() == desk.global_switch


def test_a_superuser_sees_and_acts_on_every_account(client, desk):
    admin_user = desk_user("root", role=None)
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)

    orders = client.get(changelist(type(desk.ours.order))).context["cl"].result_list
    action_post(client, Strategy, "start", desk.theirs.strategy)
    action_post(client, KillSwitch, "set_halted", desk.global_switch)

    assert set(orders) == {desk.ours.order, desk.theirs.order}
    desk.theirs.strategy.refresh_from_db()
    desk.global_switch.refresh_from_db()
    assert desk.theirs.strategy.status == Strategy.Status.RUNNING and desk.global_switch.state == "halted"


def test_a_viewer_without_the_staff_flag_cannot_open_the_admin(client, desk):
    user = desk_user("reader", role="viewer", accounts=[desk.ours.account], staff=False)
    client.force_login(user)

    assert client.get(changelist(type(desk.ours.order))).status_code == 302  # to the admin login


def test_a_member_without_a_role_reads_no_admin_list(client, desk):
    client.force_login(desk_user("nobody", role=None, accounts=[desk.ours.account]))

    assert client.get(changelist(type(desk.ours.order))).status_code == 403


def test_memberships_are_edited_inline_on_the_account_and_on_the_user(client, desk, viewer):
    client.force_login(desk_user("boss", role="admin", accounts=[desk.ours.account]))

    account_page = client.get(change_page(desk.ours.account)).content.decode()
    user_page = client.get(change_page(viewer)).content.decode()

    assert "who may see this account" in account_page and "viewer" in account_page
    assert "ccounts this user sees" in user_page and "ours (Paper trading)" in user_page
    assert "theirs" not in user_page  # an account the admin does not see is not offered


def test_an_admin_who_is_not_a_superuser_cannot_make_a_user_superuser_nor_edit_a_superuser(client, desk, viewer):
    boss = desk_user("boss", role="admin", accounts=[desk.ours.account])
    root = desk_user("root", role=None)
    root.is_superuser = True
    root.save()
    client.force_login(boss)

    client.post(
        change_page(viewer),
        {
            "username": "viewer",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "account_memberships-TOTAL_FORMS": 0,
            "account_memberships-INITIAL_FORMS": 0,
        },
    )
    edit_root = client.post(change_page(root), {"username": "root2"})

    viewer.refresh_from_db()
    root.refresh_from_db()
    assert not viewer.is_superuser
    assert edit_root.status_code == 403 and root.username == "root"


def test_an_admin_who_adds_an_account_becomes_its_member(client, desk):
    boss = desk_user("boss", role="admin", accounts=[desk.ours.account])
    client.force_login(boss)

    response = client.post(
        reverse("admin:exchanges_exchangeaccount_add"),
        {
            "name": "new paper",
            "exchange": desk.ours.account.exchange_id,
            "mode": "paper",
            "active": "on",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    account = ExchangeAccount.objects.get(name="new paper")
    assert AccountMembership.objects.filter(account=account, user=boss).exists()


def test_a_viewer_logs_in_to_the_admin_with_its_password(client, desk, viewer):
    response = client.post(reverse("admin:login"), {"username": "viewer", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
