"""/performance/: the page shows what the performance API answers, and both are the hand
calculation on the seeded history (tests/trading/performance_history.py)."""

import re
from decimal import Decimal as D

import pytest

from tests.trading.people import person_make
from tests.trading.performance_history import history_seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    return history_seed()


@pytest.fixture
def member(client, history):
    client.force_login(person_make("mia", role="viewer", accounts=[history.account]))
    return client


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_pages_return_drawdown_and_monthly_returns_are_the_apis_and_the_hand_calculation(member, history):
    api = member.get(f"/api/v1/performance/accounts/{history.account.pk}/").json()
    html = member.get(f"/performance/?account={history.account.pk}").content.decode()

    # By hand: 1000 -> 1089 is +8.90 %; 1100 -> 990 is the deepest fall, 10 %; January
    # 1000 -> 1100 is +10 %, February 1100 -> 1089 is -1 % (the year compounds to +8.90 %).
    assert api["total_return_pct"] == pytest.approx(8.9) and api["max_drawdown_pct"] == pytest.approx(10.0)
    assert [round(m["return_pct"], 2) for m in api["monthly"]] == [10.0, -1.0]
    assert text_of(html, "total-return") == "▲ +8.90%"
    assert text_of(html, "max-drawdown") == "10.00%"
    year = re.search(r'<table class="grid monthly" id="monthly">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", year, re.S)]
    assert cells[:4] == ["2025", "▲ +10.00%", "▼ −1.00%", "·"] and cells[-1] == "▲ +8.90%"


def test_the_page_shows_fees_trades_attribution_and_the_calendar(member, history):
    html = member.get(f"/performance/?account={history.account.pk}&by=week").content.decode()

    assert text_of(html, "fees") == "0.66"  # 0.665 to the cent, half to even as every money figure
    assert "3" in text_of(html, "trades") and "66.7%" in html
    assert re.search(r'<a href="/strategies/\d+/">perf trend</a>.*?▲ \+34\.56', html, re.S)
    assert re.search(r"ETH/USDT</td><td[^>]*>.*?▼ −10\.19", html, re.S)
    assert re.search(r'class="day-down" data-day="2025-02-01" title="2025-02-01: -110.00 \(-10.00%\)">.*?▼ −110<', html, re.S)
    assert "2025-01-27" in html and "2025-02-24" in html  # the weeks' Mondays


def test_all_accounts_by_default_and_anothers_account_is_a_404(client, history):
    stranger = person_make("sam", role="trader")
    client.force_login(stranger)

    assert client.get(f"/performance/?account={history.account.pk}").status_code == 404
    assert "No portfolio snapshot yet" in client.get("/performance/").content.decode()


def test_the_period_switcher_cuts_the_history(member, history):
    html = member.get(f"/performance/?account={history.account.pk}&period=week").content.decode()

    assert "No portfolio snapshot in this period" in html  # the seeded history is long past
    assert D("1089") == D(member.get(f"/api/v1/performance/accounts/{history.account.pk}/").json()["final_equity"])
