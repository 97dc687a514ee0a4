"""A trader defines the alert rules of their own accounts through the API: created, changed and
deleted, each audited once (a retried Idempotency-Key does nothing again); a viewer cannot; a
rule naming another account's strategy or a market its account cannot trade is refused in
words; the desk's rules (no account) stay a superuser's. A trader's event rule alerts on its own
account's events only."""

import pytest

from apps.alerts.models import AlertRule, Priority
from apps.alerts.services import Routing
from apps.common.models import AuditEntry
from apps.markets.models import Exchange, Market
from tests.access import desk_user

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db


def dip_rule(desk, **fields) -> dict:
    return {
        "name": "BTC dip",
        "account": desk.ours.account.pk,
        "condition": "price_below",
        "threshold": "60000",
        "markets": [desk.ours.position.market_id],
        "priority": Priority.HIGH,
        **fields,
    }


@pytest.fixture
def rule(desk, trader):
    response = trader.post("/api/v1/alert-rules/", dip_rule(desk), format="json")
    assert response.status_code == 201, response.json()
    return AlertRule.objects.get(pk=response.json()["id"])


def test_a_viewer_cannot_create_a_rule_with_a_read_token_nor_with_a_trade_token(desk, viewer):
    viewer_trade = client_with(token_for(desk_user("vic", role="viewer", accounts=[desk.ours.account]), "trade"))

    read_answer = viewer.post("/api/v1/alert-rules/", dip_rule(desk), format="json")
    trade_answer = viewer_trade.post("/api/v1/alert-rules/", dip_rule(desk), format="json")

    assert read_answer.status_code == 403 and "read scope" in read_answer.json()["error"]["message"]
    assert trade_answer.status_code == 403 and "trader role" in trade_answer.json()["error"]["message"]
    assert not AlertRule.objects.exists()


def test_a_trader_creates_a_rule_on_their_account_and_it_is_audited(desk, trader):
    response = trader.post(
        "/api/v1/alert-rules/",
        dip_rule(desk, strategies=[desk.ours.strategy.pk]),
        format="json",
        HTTP_IDEMPOTENCY_KEY="rule-1",
    )

    assert response.status_code == 201, response.json()
    rule = AlertRule.objects.get()
    assert rule.account == desk.ours.account and list(rule.strategies.all()) == [desk.ours.strategy]
    entry = AuditEntry.objects.get(action="alert_rule.add")
    assert (entry.who.username, entry.via, entry.outcome) == ("tom", "api", "done")
    assert entry.after["threshold"] == "60000"


def test_a_rule_naming_another_accounts_strategy_is_not_found_and_the_refusal_audited(desk, trader):
    response = trader.post("/api/v1/alert-rules/", dip_rule(desk, strategies=[desk.theirs.strategy.pk]), format="json")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"no strategy #{desk.theirs.strategy.pk} on your accounts"
    assert not AlertRule.objects.exists()
    assert AuditEntry.objects.get(action="alert_rule.add").outcome == "refused"


def test_a_rule_of_another_account_or_of_the_whole_desk_is_refused(desk, trader):
    theirs = trader.post("/api/v1/alert-rules/", dip_rule(desk, account=desk.theirs.account.pk), format="json")
    desk_wide = trader.post("/api/v1/alert-rules/", dip_rule(desk, account=None), format="json")

    assert (
        theirs.status_code == 404
        and theirs.json()["error"]["message"] == f"no account #{desk.theirs.account.pk} among your accounts"
    )
    assert desk_wide.status_code == 403 and "superusers only" in desk_wide.json()["error"]["message"]
    assert not AlertRule.objects.exists()


def test_a_market_the_rules_account_cannot_trade_is_refused_in_words_with_every_other_bad_field(desk, trader):
    kraken = Exchange.objects.create(code="kraken", name="Kraken", ccxt_id="kraken")
    elsewhere = Market.objects.create(exchange=kraken, symbol="ETH/EUR", base="ETH", quote="EUR")

    response = trader.post(
        "/api/v1/alert-rules/",
        dip_rule(desk, markets=[elsewhere.pk], threshold="-1", accounts=[desk.ours.account.pk]),
        format="json",
    )

    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "markets": ["ETH/EUR: not on the exchange of ours."],
        "threshold": ["A price level is above 0."],
    }


def test_a_trader_cannot_take_over_or_delete_the_desks_rule(desk, trader):
    desks = AlertRule.objects.create(name="desk-wide", condition="", event_kinds=["order.filled"])

    taken = trader.patch(f"/api/v1/alert-rules/{desks.pk}/", {"account": desk.ours.account.pk}, format="json")
    deleted = trader.delete(f"/api/v1/alert-rules/{desks.pk}/")

    assert taken.status_code == 403 and deleted.status_code == 403
    desks.refresh_from_db()
    assert desks.account is None


def test_a_retried_patch_answers_the_same_and_changes_once_and_the_same_key_with_another_body_is_a_422(desk, trader, rule):
    url, key = f"/api/v1/alert-rules/{rule.pk}/", {"HTTP_IDEMPOTENCY_KEY": "lower-it"}

    first = trader.patch(url, {"threshold": "58000"}, format="json", **key)
    AlertRule.objects.filter(pk=rule.pk).update(name="renamed by someone else")  # a retry must not write again
    retried = trader.patch(url, {"threshold": "58000"}, format="json", **key)
    reused = trader.patch(url, {"threshold": "57000"}, format="json", **key)

    assert first.status_code == retried.status_code == 200
    assert retried.json() == first.json() and first.json()["threshold"] == "58000.00000000"
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert AuditEntry.objects.filter(action="alert_rule.change").count() == 1
    assert AlertRule.objects.get(pk=rule.pk).name == "renamed by someone else"
    assert reused.status_code == 422 and "Idempotency-Key" in reused.json()["error"]["fields"]


def test_a_trader_deletes_their_rule_once_audited_a_retry_answers_the_same(desk, trader, rule):
    key = {"HTTP_IDEMPOTENCY_KEY": "drop-it"}

    answers = [trader.delete(f"/api/v1/alert-rules/{rule.pk}/", **key).status_code for _ in range(2)]

    assert answers == [204, 204]
    assert not AlertRule.objects.exists()
    assert AuditEntry.objects.filter(action="alert_rule.delete", outcome="done").count() == 1


def test_a_traders_event_rule_gives_its_priority_to_its_own_accounts_events_only(desk, trader):
    response = trader.post(
        "/api/v1/alert-rules/",
        {"name": "fills", "account": desk.ours.account.pk, "event_kinds": ["order.filled"], "priority": Priority.CRITICAL},
        format="json",
    )
    assert response.status_code == 201, response.json()

    routing = Routing.load()

    assert routing.rule_priority("order.filled", desk.ours.account.pk) == Priority.CRITICAL
    assert routing.rule_priority("order.filled", desk.theirs.account.pk) is None
