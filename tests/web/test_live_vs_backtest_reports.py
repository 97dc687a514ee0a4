"""The strategy page and the admin show the nightly live-vs-backtest reports: each day's matched,
missing and extra trades with the reason of each difference, to the account's members only."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.research.live_vs_backtest import RISK_REFUSAL, Reason, Trade, compare
from apps.research.live_vs_backtest_report import report_values
from apps.research.models import LiveBacktestReport
from tests.access import desk_make, desk_user

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 30)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def report_make(strategy) -> LiveBacktestReport:
    """A day with one matched trade filled 0.5 worse than the backtest and one refused entry."""
    live = [Trade("BTC/USDT", T0, "buy", D("0.01"), D("100.5"), D("0.001"))]
    backtest = [
        Trade("BTC/USDT", T0, "buy", D("0.01"), D("100"), D("0.001")),
        Trade("BTC/USDT", T0 + timedelta(hours=2), "buy", D("0.01"), D("102"), D("0.001")),
    ]
    found = compare(live, backtest, {"BTC/USDT": D("103")}, start=T0, end=T0 + timedelta(hours=15))
    refused = Reason(RISK_REFUSAL, "order value 1020.00 exceeds max order notional 50", "max_order_notional")
    found = type(found)(**{**found.__dict__, "reasons": {("missing", backtest[1].key): refused}, "allocation": D("1000")})
    return LiveBacktestReport.objects.create(strategy=strategy, day=DAY, threshold=D("0.02"), **report_values(found))


def test_the_strategy_page_shows_each_days_trades_with_the_reason_of_each_difference(client):
    desk = desk_make()
    report = report_make(desk.ours.strategy)
    assert (report.matched, report.missing, report.extra) == (1, 1, 0)
    client.force_login(desk_user("victor", role="viewer", accounts=[desk.ours.account]))

    page = client.get(f"/strategies/{desk.ours.strategy.pk}/").content.decode()

    assert 'data-day="2026-11-30"' in page
    assert page.count('data-trade="matched"') == 1 and page.count('data-trade="missing"') == 1
    assert 'data-reason="risk_refusal"' in page and "(max_order_notional)" in page
    assert "order value 1020.00 exceeds max order notional 50" in page
    assert "0.5 %" in page  # the matched trade's slippage: 0.5 worse on 100
    assert client.get(f"/strategies/{desk.theirs.strategy.pk}/").status_code == 404


def test_the_admin_lists_the_reports_of_the_users_accounts_read_only(client):
    desk = desk_make()
    ours, theirs = report_make(desk.ours.strategy), report_make(desk.theirs.strategy)
    user = desk_user("ada", role="admin", accounts=[desk.ours.account])
    client.force_login(user)

    listing = client.get("/admin/research/livebacktestreport/")
    detail = client.get(f"/admin/research/livebacktestreport/{ours.pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    assert f"/{ours.pk}/change/" in listing.content.decode() and f"/{theirs.pk}/change/" not in listing.content.decode()
    assert "max_order_notional" in detail.content.decode() and 'name="_save"' not in detail.content.decode()
    assert client.get(f"/admin/research/livebacktestreport/{theirs.pk}/change/").status_code == 404
    assert client.post(f"/admin/research/livebacktestreport/{ours.pk}/delete/").status_code == 403
