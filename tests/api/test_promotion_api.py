"""Promotion over the API: a trader's token promotes (audited via api), a refusal is a 409 whose
fields name each failed rule, a viewer is refused; the daily review's rows are listed."""

import pytest

from apps.common.models import AuditEntry
from apps.research.review import strategies_review
from apps.strategies.models import Strategy
from tests.api.conftest import client_with, token_for
from tests.research.promotion_support import desk_make, on_paper, trades_make
from tests.trading.factories import strategy_make
from tests.trading.people import people_make

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def promo_desk():
    account, market = desk_make()
    return account, market, people_make(account)


def test_a_trader_promotes_a_candidate_and_a_refusal_names_the_rules(promo_desk):
    account, market, people = promo_desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED, name="fresh")
    trader = client_with(token_for(people["trader"], "trade"))

    done = trader.post(f"/api/v1/strategies/{strategy.pk}/promote/", {"reason": "good backtest"}, format="json")

    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["from_stage"], body["to_stage"], body["strategy"]["stage"], body["rules"]) == ("candidate", "paper", "paper", [])
    assert AuditEntry.objects.get(action="strategy.promote", outcome="done").via == "api"

    refused = trader.post(f"/api/v1/strategies/{strategy.pk}/promote/", {}, format="json")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["fields"]["min_paper_trades"] == ["0 paper trades; the rule asks for at least 20"]
    assert set(error["fields"]) == {"paper_days", "min_paper_trades", "min_sharpe", "max_divergence"}


def test_a_viewer_cannot_promote(promo_desk):
    account, market, people = promo_desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED)
    viewer = client_with(token_for(people["viewer"], "read"))

    response = viewer.post(f"/api/v1/strategies/{strategy.pk}/promote/", {}, format="json")

    assert response.status_code == 403
    assert Strategy.objects.get(pk=strategy.pk).stage == "candidate"


def test_the_daily_reviews_are_listed_for_the_accounts_members_only(promo_desk):
    account, market, people = promo_desk
    strategy = on_paper(account=account, market=market, days=3)
    trades_make(strategy, market, ["10", "-200"], first_day_ago=2)
    strategies_review()

    rows = client_with(token_for(people["viewer"], "read")).get("/api/v1/strategy-reviews/").json()["results"]
    elsewhere = client_with(token_for(people["stranger"], "read")).get("/api/v1/strategy-reviews/").json()["results"]

    assert [(row["strategy"], row["verdict"], row["action"]) for row in rows] == [(strategy.pk, "breach", "paused")]
    assert rows[0]["reason"].startswith("daily review") and elsewhere == []
