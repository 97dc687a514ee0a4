"""Channels and rules in the admin: an admin of the account configures them (audited, secrets
never in the trail); a viewer or a trader sees them and cannot create one."""

import pytest
from django.test import Client

from apps.alerts.models import AlertRule, Channel
from apps.common.models import AuditEntry
from tests.access import desk_user
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def webhook_form(account) -> dict:
    return {
        "name": "ops hook",
        "kind": "webhook",
        "account": account.pk,
        "min_priority": 20,
        "url": "http://127.0.0.1:9/hooks/desk",
        "secret": "signing-key-never-shown",
        "address": "",
        "smtp_host": "",
        "smtp_port": "",
        "smtp_user": "",
        "email_from": "",
        "active": "on",
    }


@pytest.mark.parametrize("role", ["viewer", "trader"])
def test_a_viewer_or_a_trader_cannot_create_a_channel_or_a_rule(role):
    account = account_make()
    client = logged_in(desk_user(role, role=role, accounts=[account]))

    assert client.get("/admin/alerts/channel/").status_code == 200
    assert client.get("/admin/alerts/channel/add/").status_code == 403
    assert client.post("/admin/alerts/channel/add/", webhook_form(account)).status_code == 403
    assert (
        client.post(
            "/admin/alerts/alertrule/add/", {"name": "mine", "event_kinds": "[]", "priority": 20, "min_priority": 10}
        ).status_code
        == 403
    )
    assert not Channel.objects.exists() and not AlertRule.objects.exists()


def test_an_admin_adds_a_channel_for_their_account_audited_without_its_secret():
    account = account_make()
    client = logged_in(desk_user("ada", role="admin", accounts=[account]))

    response = client.post("/admin/alerts/channel/add/", webhook_form(account))

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert channel.secret == "signing-key-never-shown"
    entry = AuditEntry.objects.get(action="admin.add")
    assert entry.who.username == "ada" and "signing-key-never-shown" not in str(entry.after)
    assert "http://127.0.0.1:9/hooks/desk" not in str(entry.after)  # a webhook URL is a secret too


def test_a_channel_missing_its_settings_is_refused_naming_each_field():
    account = account_make()
    client = logged_in(desk_user("ada", role="admin", accounts=[account]))

    form = {**webhook_form(account), "kind": "telegram", "url": "", "secret": "", "address": ""}
    page = client.post("/admin/alerts/channel/add/", form).content.decode()

    assert "needs the bot token" in page and "needs the chat id" in page
    assert not Channel.objects.exists()


def test_a_rule_naming_an_event_kind_that_does_not_exist_is_refused_in_words():
    account = account_make()
    client = logged_in(desk_user("ada", role="admin", accounts=[account]))

    page = client.post(
        "/admin/alerts/alertrule/add/",
        {
            "name": "typo",
            "account": account.pk,
            "event_kinds": '["order.fild"]',
            "priority": 20,
            "min_priority": 10,
            "active": "on",
        },
    ).content.decode()

    assert "No such event kind: order.fild." in page
    assert not AlertRule.objects.exists()
