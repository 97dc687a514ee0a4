"""GET /api/v1/performance/: the selector's figures as the API shows them, membership-filtered."""

from decimal import Decimal as D

import pytest

from tests.trading.people import person_make
from tests.trading.performance_history import history_seed

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    return history_seed()


@pytest.fixture
def member(history):
    return client_with(token_for(person_make("mia", role="viewer", accounts=[history.account]), "read"))


def test_an_accounts_figures_are_the_hand_calculation(member, history):
    answer = member.get(f"/api/v1/performance/accounts/{history.account.pk}/?by=month")

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert D(body["total_pnl"]) == D("89") and body["total_return_pct"] == pytest.approx(8.9)
    assert body["max_drawdown_pct"] == pytest.approx(10.0)
    assert [(m["period"], round(m["return_pct"], 6)) for m in body["pnl_by"]] == [("2025-01", 10.0), ("2025-02", -1.0)]
    assert [(d["period"], D(d["pnl"])) for d in body["daily"]][2] == ("2025-02-01", D("-110"))
    assert (body["trades"], body["wins"], D(body["fees"])) == (3, 2, D("0.665"))
    assert {row["name"]: D(row["pnl"]) for row in body["per_market"]} == {"BTC/USDT": D("34.565"), "ETH/USDT": D("-10.19")}
    assert body["equity"][2]["peak"] == "1100.000000000000" and body["equity"][2]["drawdown_pct"] == pytest.approx(10.0)


def test_a_period_and_a_strategy(member, history):
    february = member.get("/api/v1/performance/?start=2025-02-01&end=2025-03-01&by=week").json()
    trend = member.get(f"/api/v1/performance/strategies/{history.trend.pk}/").json()

    assert february["account_ids"] == [history.account.pk]
    assert february["total_return_pct"] == pytest.approx(-1.0) and february["start"] == "2025-02-01T00:00:00Z"
    assert [row["period"] for row in february["pnl_by"]] == ["2025-01-27", "2025-02-24"]
    assert trend["strategy_id"] == history.trend.pk and trend["total_return_pct"] == pytest.approx(3.4565)


def test_another_accounts_performance_is_a_404(history):
    stranger = client_with(token_for(person_make("sam", role="trader"), "read"))

    assert stranger.get(f"/api/v1/performance/accounts/{history.account.pk}/").status_code == 404
    assert stranger.get(f"/api/v1/performance/strategies/{history.trend.pk}/").status_code == 404
    assert stranger.get("/api/v1/performance/").json()["account_ids"] == []


def test_bad_queries_are_refused_in_one_answer(member, history):
    answer = member.get("/api/v1/performance/?by=year&start=2025-02-01&end=2025-01-01&colour=red")

    assert answer.status_code == 400
    assert set(answer.json()["error"]["fields"]) == {"colour"}
    both = member.get("/api/v1/performance/?by=year&start=yesterday")
    assert both.status_code == 400 and set(both.json()["error"]["fields"]) == {"by", "start"}
    backwards = member.get("/api/v1/performance/?start=2025-02-01&end=2025-01-01")
    assert backwards.status_code == 422 and set(backwards.json()["error"]["fields"]) == {"start"}


def test_the_schema_documents_the_performance_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/performance/accounts/{account_id}/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"account_id", "start", "end", "by"}
    assert "examples" in operation["responses"]["200"]["content"]["application/json"]
