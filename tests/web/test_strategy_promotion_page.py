"""The strategy page shows the stage, what a promotion would check and the last daily review;
a trader promotes from it (refused with the failed rule), a viewer sees no button."""

import pytest

from apps.common.models import AuditEntry
from apps.research.review import strategies_review
from apps.strategies.models import Strategy
from tests.research.promotion_support import desk_make, on_paper, trades_make
from tests.trading.factories import strategy_make
from tests.trading.people import people_make

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
JSON = {"accept": "application/json"}


@pytest.fixture
def desk():
    account, market = desk_make()
    return account, market, people_make(account)


def test_the_page_shows_the_stage_the_rules_and_the_last_review(client, desk):
    account, market, people = desk
    strategy = on_paper(account=account, market=market, days=15, name="swing")
    trades_make(strategy, market, ["5", "-120", "-100"], first_day_ago=5)
    strategies_review()
    client.force_login(people["trader"])

    page = client.get(f"/strategies/{strategy.pk}/").content.decode()

    assert 'id="strategy-stage"' in page and ">PAPER<" in page
    assert "3 paper trades; the rule asks for at least 20" in page
    assert "Promote to live" in page
    assert "Breaching its rules" in page and "daily review" in page and "max drawdown 21.89%" in page


def test_a_viewer_sees_the_stage_but_no_promote_button(client, desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED)
    client.force_login(people["viewer"])

    page = client.get(f"/strategies/{strategy.pk}/").content.decode()

    assert ">CANDIDATE<" in page and "Promote to" not in page and "/promote" not in page
    refused = client.post(f"/strategies/{strategy.pk}/promote", headers=JSON)
    assert refused.status_code == 403 and "trader role" in refused.json()["message"]


def test_a_trader_promotes_from_the_page_and_a_refusal_names_the_rule(client, desk):
    account, market, people = desk
    candidate = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED, name="fresh")
    client.force_login(people["trader"])

    done = client.post(f"/strategies/{candidate.pk}/promote", {"reason": "backtests hold up"}, headers=JSON)

    assert done.status_code == 200 and done.json()["message"] == "fresh promoted from candidate to paper."
    candidate.refresh_from_db()
    assert candidate.stage == "paper" and candidate.status == "running"
    assert AuditEntry.objects.get(action="strategy.promote", outcome="done").reason == "backtests hold up"

    refused = client.post(f"/strategies/{candidate.pk}/promote", headers=JSON)
    assert refused.status_code == 409
    assert "min_paper_trades: 0 paper trades; the rule asks for at least 20" in refused.json()["message"]


def test_someone_elses_strategy_is_not_found(client, desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED)
    client.force_login(people["stranger"])

    assert client.post(f"/strategies/{strategy.pk}/promote", headers=JSON).status_code == 404
