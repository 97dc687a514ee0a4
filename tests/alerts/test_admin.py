"""Channels and rules in the admin: an admin of the account configures channels (audited, secrets
never in the trail), a trader the rules of their own accounts; a viewer sees both and creates
neither, and a trader never a channel."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.alerts.models import AlertRule, Channel
from apps.api.tokens import api_token_create
from apps.common.models import AuditEntry
from tests.access import desk_user
from tests.trading.factories import account_make, fresh_market, strategy_make

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
def test_a_viewer_or_a_trader_cannot_create_a_channel(role):
    account = account_make()
    client = logged_in(desk_user(role, role=role, accounts=[account]))

    assert client.get("/admin/alerts/channel/").status_code == 200
    assert client.get("/admin/alerts/channel/add/").status_code == 403
    assert client.post("/admin/alerts/channel/add/", webhook_form(account)).status_code == 403
    assert not Channel.objects.exists()


def test_a_viewer_cannot_create_a_rule():
    account = account_make()
    client = logged_in(desk_user("viewer", role="viewer", accounts=[account]))

    assert client.get("/admin/alerts/alertrule/").status_code == 200
    assert client.post("/admin/alerts/alertrule/add/", rule_form(account)).status_code == 403
    assert not AlertRule.objects.exists()


def rule_form(account, **fields) -> dict:
    return {
        "name": "fills",
        "account": account.pk,
        "condition": "",
        "event_kinds": '["order.filled"]',
        "priority": 20,
        "min_priority": 10,
        "active": "on",
        **fields,
    }


def test_a_trader_adds_a_rule_for_their_account_audited_but_never_for_another_or_naming_anothers_strategy():
    ours, theirs = account_make(name="ours"), account_make(name="theirs")
    market = fresh_market()
    their_strategy = strategy_make(account=theirs, markets=[market], name="their ema")
    client = logged_in(desk_user("tom", role="trader", accounts=[ours]))

    naming_theirs = client.post("/admin/alerts/alertrule/add/", rule_form(ours, strategies=[their_strategy.pk]))
    for_theirs = client.post("/admin/alerts/alertrule/add/", rule_form(theirs))
    assert naming_theirs.status_code == for_theirs.status_code == 200  # the form again, with its errors
    assert "Select a valid choice" in naming_theirs.content.decode() and "Select a valid choice" in for_theirs.content.decode()
    assert not AlertRule.objects.exists()

    added = client.post("/admin/alerts/alertrule/add/", rule_form(ours, markets=[market.pk]))

    assert added.status_code == 302, added.content.decode()[:2000]
    assert AlertRule.objects.get().account == ours
    assert AuditEntry.objects.get(action="admin.add").who.username == "tom"


def test_the_admin_form_and_the_api_refuse_a_strategy_of_another_of_your_accounts_in_the_same_words():
    ours, other = account_make(name="ours"), account_make(name="other")
    strategy = strategy_make(account=other, markets=[fresh_market()], name="other ema")
    tom = desk_user("tom", role="trader", accounts=[ours, other])
    client = logged_in(tom)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(actor=None, user=tom, name='t', scope='trade').key}")
    body = {"name": "fills", "account": ours.pk, "event_kinds": ["order.filled"], "accounts": [other.pk]}

    page = client.post(
        "/admin/alerts/alertrule/add/", rule_form(ours, strategies=[strategy.pk], accounts=[other.pk])
    ).content.decode()
    answer = api.post("/api/v1/alert-rules/", {**body, "strategies": [strategy.pk]}, format="json")

    assert "other ema is not on ours." in page and "A rule of ours watches ours only, not other" in page
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {
        "strategies": ["other ema is not on ours."],
        "accounts": ["A rule of ours watches ours only, not other: leave the accounts empty or name ours."],
    }
    assert not AlertRule.objects.exists()


def test_a_trader_cannot_delete_the_desks_rules_in_bulk():
    account = account_make()
    mine = AlertRule.objects.create(name="mine", account=account)
    desks = AlertRule.objects.create(name="desk-wide")
    client = logged_in(desk_user("tom", role="trader", accounts=[account]))

    response = client.post(
        "/admin/alerts/alertrule/",
        {"action": "delete_selected", "_selected_action": [mine.pk, desks.pk], "post": "yes"},
    )

    assert response.status_code == 403
    assert set(AlertRule.objects.values_list("name", flat=True)) == {"mine", "desk-wide"}
    assert AuditEntry.objects.get(action="admin.delete_selected").outcome == "refused"


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
