"""The three roles are Django groups whose permissions grow from viewer to trader to admin."""

import pytest
from django.contrib.auth.models import Group, Permission

from apps.exchanges.roles import Role, role_groups_ensure, user_has_role, user_role
from tests.access import desk_user

pytestmark = pytest.mark.django_db


def perms(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_a_viewer_may_view_the_desks_models_and_change_none():
    viewer = perms("viewer")

    assert {
        "trading.view_order",
        "trading.view_position",
        "strategies.view_strategy",
        "risk.view_killswitch",
        "risk.view_risklimits",
        "trading.view_portfoliosnapshot",
        "exchanges.view_exchangeaccount",
        "markets.view_candle",
    } <= viewer
    assert all(".view_" in name for name in viewer)
    assert "exchanges.view_accountmembership" not in viewer  # who else is a member is the admins' business


def test_a_trader_adds_strategy_status_position_close_order_cancel_the_kill_switch_alert_acknowledgement_and_rules():
    added = perms("trader") - perms("viewer")

    assert added == {
        "strategies.change_strategy_status",
        "trading.close_position",
        "trading.cancel_order",
        "risk.set_kill_switch",
        "alerts.acknowledge_alert",
        "alerts.add_alertrule",
        "alerts.change_alertrule",
        "alerts.delete_alertrule",
    }
    assert not {"alerts.add_channel", "alerts.change_channel"} & added  # channels stay an admin's


def test_an_admin_may_change_accounts_keys_risk_limits_memberships_and_users():
    admin = perms("admin")

    assert perms("trader") <= admin
    assert {
        "exchanges.change_exchangeaccount",
        "exchanges.add_exchangeaccount",
        "risk.change_risklimits",
        "exchanges.add_accountmembership",
        "auth.change_user",
        "auth.add_user",
        "strategies.change_strategy",
    } <= admin
    assert "auth.change_permission" not in admin and "auth.change_group" not in admin


def test_ensuring_the_groups_again_changes_nothing_and_restores_a_deleted_one():
    before = {name: perms(name) for name in ("viewer", "trader", "admin")}
    Group.objects.filter(name="trader").delete()

    role_groups_ensure()
    role_groups_ensure()

    assert {name: perms(name) for name in before} == before
    assert Group.objects.filter(name__in=before).count() == 3


def test_a_permission_an_operator_added_to_a_group_is_kept():
    extra = Permission.objects.get(codename="view_periodictask")
    Group.objects.get(name="viewer").permissions.add(extra)

    role_groups_ensure()

    assert "django_celery_beat.view_periodictask" in perms("viewer")


def test_a_users_role_is_its_highest_group_and_a_superuser_is_an_admin():
    trader = desk_user("t", role="trader")
    trader.groups.add(Group.objects.get(name="viewer"))
    root = desk_user("root", role=None)
    root.is_superuser = True

    assert user_role(trader) == Role.TRADER and user_has_role(trader, Role.VIEWER)
    assert not user_has_role(trader, Role.ADMIN)
    assert user_role(root) == Role.ADMIN
    assert user_role(desk_user("nobody", role=None)) == Role.NONE


@pytest.mark.django_db(transaction=True)
def test_the_groups_are_back_after_the_database_is_flushed():
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)

    assert {"viewer", "trader", "admin"} <= set(Group.objects.values_list("name", flat=True))
    assert "risk.set_kill_switch" in perms("trader")
