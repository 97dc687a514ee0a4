"""The daily summary reaches the account's channels once a day with the day's equity, P&L, trades,
fees, open positions, goals and alerts — the performance API's figures, to the cent — and is not
an alert waiting for anyone."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.alerts.models import Alert, Priority
from apps.alerts.selectors import alerts_unacknowledged
from apps.alerts.services import daily_summaries_send
from apps.alerts.summary import day_summary
from apps.trading.models import PortfolioSnapshot, Position
from apps.trading.performance import performance_report
from tests.access import desk_user
from tests.alerts.conftest import channel_make, pipeline_until
from tests.alerts.receivers import WEBHOOK_PATH
from tests.trading.factories import account_make, fresh_market
from tradedesk.celery import DEFAULT_BEAT_SCHEDULE

pytestmark = pytest.mark.django_db


def snapshot(account, taken_at, equity: str) -> None:
    PortfolioSnapshot.objects.create(
        account=account, taken_at=taken_at, equity=D(equity), cash=D(equity), positions_value=0, realized_pnl=0, unrealized_pnl=0
    )


def test_the_daily_summary_tells_each_account_its_day_once_with_the_performance_selectors_figures(receivers):
    account = account_make(name="main")
    hook = channel_make(receivers, "webhook", account=account)
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    snapshot(account, midnight - timedelta(minutes=1), "10000")
    snapshot(account, now - timedelta(seconds=5), "10234.56")
    market = fresh_market(symbol="ETH/USDT", price=D("2100"))
    Position.objects.create(
        account=account, market=market, amount=D("0.5"), average_entry=D("2000"), unrealized_pnl=D("50"), last_price=D("2100")
    )
    Alert.objects.create(
        dedup_key="x",
        kind="order.rejected",
        priority=Priority.HIGH,
        account=account,
        title="Rejected",
        created_at=now - timedelta(minutes=1),
    )

    assert daily_summaries_send(now=now) == 1
    assert daily_summaries_send(now=now) == 0  # once a day
    pipeline_until(lambda: receivers.delivered(WEBHOOK_PATH))

    (message,) = [request.body for request in receivers.delivered(WEBHOOK_PATH)]
    report = performance_report(account_ids=[account.pk], start=midnight, end=now)
    assert report.final_equity == D("10234.56") and report.total_pnl == D("234.56")
    assert message["title"] == f"Daily summary {now:%Y-%m-%d}: main"
    assert f"Equity {report.final_equity:,.2f} · day P&L +234.56 ({report.total_return_pct:+.2f} %)" in message["body"]
    assert f"fees {report.fees:,.2f}" in message["body"] and f"Trades closed {report.trades}" in message["body"]
    assert "Open positions 1: ETH/USDT 0.5 @ 2,000.00 (+50.00)" in message["body"]
    assert "Alerts today: 1 (1 high)" in message["body"] and "Goals: none set" in message["body"]
    assert hook.deliveries.get().outcome == "sent"

    trader = desk_user("tess", role="trader", accounts=[account])
    assert list(alerts_unacknowledged(user=trader).values_list("kind", flat=True)) == ["order.rejected"]

    api = APIClient()
    api.force_authenticate(trader)
    period = {"start": midnight.isoformat(), "end": now.isoformat()}
    figures = api.get(f"/api/v1/performance/accounts/{account.pk}/", period).json()
    assert D(figures["final_equity"]) == D("10234.56") and D(figures["total_pnl"]) == D("234.56")
    assert f"({figures['total_return_pct']:+.2f} %)" in message["body"]
    assert f"fees {D(figures['fees']):,.2f}" in message["body"] and f"Trades closed {figures['trades']} " in message["body"]


def test_the_summary_runs_on_the_beat_at_20_utc_by_default():
    entry = DEFAULT_BEAT_SCHEDULE["alerts: daily summary"]
    assert entry["crontab"] == {"minute": "0", "hour": "20"} and entry["queue"] == "alerts"


def test_an_account_without_snapshots_says_so_instead_of_inventing_an_equity():
    account = account_make(name="new")
    summary = day_summary(account=account, now=timezone.now())
    assert "Equity no snapshot yet · day P&L +0.00" in summary.body()
