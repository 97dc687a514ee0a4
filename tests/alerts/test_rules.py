"""Condition rules a trader's admin defines, measured on the alerts tick and delivered to a real
receiver: a price crossing a level, a position's unrealized P&L, the day's loss (by the
performance selector's figures), no fill while strategies run. Each alerts once when its
condition becomes true, again only after it was false. Through the API a viewer cannot create a
rule; an admin's bad rule is refused naming every field."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from apps.alerts.models import Alert, AlertRule, Priority
from apps.api.tokens import api_token_create
from apps.common.models import AuditEntry
from apps.trading.models import PortfolioSnapshot, Position
from apps.trading.performance import performance_report
from tests.access import desk_user
from tests.alerts.conftest import channel_make, pipeline_until
from tests.alerts.receivers import WEBHOOK_PATH
from tests.trading.factories import account_make, fresh_market, price_set, strategy_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rules_every_tick(settings):
    settings.ALERTS_RULES_EVERY_SECONDS = 0


def rule_make(condition: str, threshold, *, channels=(), markets=(), accounts=(), **fields) -> AlertRule:
    rule = AlertRule.objects.create(
        name=fields.pop("name", condition), condition=condition, threshold=D(str(threshold)), priority=Priority.HIGH, **fields
    )
    rule.channels.set(channels)
    rule.markets.set(markets)
    rule.accounts.set(accounts)
    return rule


def messages(receivers) -> list[dict]:
    return [request.body for request in receivers.delivered(WEBHOOK_PATH)]


def test_a_price_crossing_above_its_level_alerts_once_and_again_after_falling_back(receivers):
    hook = channel_make(receivers, "webhook")
    market = fresh_market(symbol="BTC/USDT", price=D("69000"))
    rule_make("price_above", "70000", channels=[hook], markets=[market], name="BTC breakout")

    pipeline_until(lambda: True)
    assert messages(receivers) == []  # below the level

    price_set(market, D("70012.5"))
    pipeline_until(lambda: len(messages(receivers)) == 1)
    price_set(market, D("70500"))
    pipeline_until(lambda: True)
    (first,) = messages(receivers)
    assert first["title"] == "BTC breakout: BTC/USDT crossed above 70000" and "70012.5" in first["body"]
    assert first["priority"] == "high" and first["kind"] == f"rule.price_above:{AlertRule.objects.get().pk}"

    price_set(market, D("69900"))
    pipeline_until(lambda: True)
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=True):  # past the 5-minute throttle
        price_set(market, D("70001"))
        pipeline_until(lambda: len(messages(receivers)) == 2)
    assert Alert.objects.count() == 2


def test_a_position_losing_more_than_its_threshold_alerts_with_its_account(receivers):
    hook = channel_make(receivers, "webhook")
    account = account_make(name="main")
    market = fresh_market(symbol="ETH/USDT", price=D("1900"))
    position = Position.objects.create(
        account=account, market=market, amount=D("1"), average_entry=D("2000"), unrealized_pnl=D("-40"), last_price=D("1960")
    )
    rule_make("position_pnl_below", "-5", channels=[hook], accounts=[account])

    pipeline_until(lambda: True)
    assert messages(receivers) == []  # -2 %

    Position.objects.filter(pk=position.pk).update(unrealized_pnl=D("-120"), last_price=D("1880"))
    pipeline_until(lambda: len(messages(receivers)) == 1)
    (message,) = messages(receivers)
    assert message["account"] == "main" and "-6.00 %" in message["title"]


def test_the_daily_loss_rule_measures_the_day_as_the_performance_selector_does(receivers):
    hook = channel_make(receivers, "webhook")
    account = account_make(name="main")
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for taken_at, equity in ((midnight - timedelta(minutes=5), "10000"), (now - timedelta(seconds=30), "9400")):
        PortfolioSnapshot.objects.create(
            account=account,
            taken_at=taken_at,
            equity=D(equity),
            cash=D(equity),
            positions_value=0,
            realized_pnl=0,
            unrealized_pnl=0,
        )
    rule_make("daily_loss_above", "5", channels=[hook], accounts=[account])

    pipeline_until(lambda: len(messages(receivers)) == 1)

    report = performance_report(account_ids=[account.pk], start=midnight, end=now + timedelta(seconds=1))
    assert report.total_return_pct == pytest.approx(-6.0)
    (message,) = messages(receivers)
    assert message["title"] == "daily_loss_above: main down 6.00 % today" and "-600.00" in message["body"]


def test_no_fill_for_n_minutes_while_a_strategy_runs_alerts_and_a_stopped_desk_does_not(receivers):
    hook = channel_make(receivers, "webhook")
    running = account_make(name="running")
    idle = account_make(name="idle")
    market = fresh_market()
    strategy_make(account=running, markets=[market])
    strategy_make(account=idle, markets=[market], status="stopped")
    rule_make("no_fill", 30, channels=[hook])

    with time_machine.travel(timezone.now(), tick=True) as clock:
        pipeline_until(lambda: True)
        clock.shift(timedelta(minutes=29))
        pipeline_until(lambda: True)
        assert messages(receivers) == []

        clock.shift(timedelta(minutes=2))
        pipeline_until(lambda: len(messages(receivers)) == 1)
    (message,) = messages(receivers)
    assert message["account"] == "running" and "no fill on running for 31 minutes" in message["title"]


def api_as(user, scope: str) -> APIClient:
    client = APIClient()
    key = api_token_create(actor=None, user=user, name=f"{user.username} {scope}", scope=scope, via="command").key
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_through_the_api_a_viewer_cannot_create_a_rule_and_an_admins_bad_rule_names_every_field():
    account = account_make()
    viewer = api_as(desk_user("vic", role="viewer", accounts=[account]), "trade")
    admin = api_as(desk_user("ada", role="admin", accounts=[account]), "admin")
    rule = {"name": "BTC dip", "account": account.pk, "condition": "price_below", "threshold": "-3", "priority": 30}

    assert viewer.post("/api/v1/alert-rules/", rule, format="json").status_code == 403
    refused = admin.post("/api/v1/alert-rules/", {**rule, "event_kinds": ["order.filled"]}, format="json")
    assert refused.status_code == 422
    assert set(refused.json()["error"]["fields"]) == {"threshold", "markets", "event_kinds"}
    assert not AlertRule.objects.exists()

    market = fresh_market()
    created = admin.post(
        "/api/v1/alert-rules/", {**rule, "threshold": "60000", "markets": [market.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="r1"
    )
    assert created.status_code == 201, created.json()
    assert AlertRule.objects.get().threshold == D("60000")
    assert AuditEntry.objects.get(action="alert_rule.add", outcome="done").who.username == "ada"
    assert viewer.get("/api/v1/alert-rules/").json()["results"][0]["condition"] == "price_below"


def test_a_strategy_in_a_drawdown_beyond_its_threshold_alerts_by_the_performance_selectors_curve(receivers):
    from tests.trading.performance_history import history_seed

    hook = channel_make(receivers, "webhook")
    history = history_seed()
    rule = rule_make("strategy_drawdown_above", "1", channels=[hook])
    rule.strategies.set([history.trend, history.swing])

    pipeline_until(lambda: len(messages(receivers)) >= 1)
    pipeline_until(lambda: True)

    swing = performance_report(account_ids=[history.account.pk], strategy_id=history.swing.pk)
    drawdown = swing.equity[-1].drawdown_pct
    assert drawdown > 1
    (message,) = messages(receivers)  # the trend strategy is at its peak
    assert message["title"] == f"strategy_drawdown_above: strategy {history.swing.name} in a {drawdown:.2f} % drawdown"
