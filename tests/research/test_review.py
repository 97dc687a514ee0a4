"""The daily review ranks an account's running strategies over its last paper_days days, labels
the market's regime and pauses a strategy breaching its drawdown rule, saying why."""

import numpy as np
import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.alerts.kinds import built_in_alert
from apps.alerts.models import Priority
from apps.common.models import AuditEntry, Event
from apps.desk.beat import beat_schedule_install
from apps.research.models import StrategyReview
from apps.research.review import strategies_review
from apps.research.tasks import strategies_daily_review
from apps.strategies.models import PromotionPolicy, Strategy
from tests.research.promotion_support import btc_market, candles_make, desk_make, on_paper, trades_make
from tests.trading.factories import strategy_make
from tradedesk.celery import DEFAULT_BEAT_SCHEDULE

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def desk():
    return desk_make()


def test_the_review_pauses_a_strategy_breaching_its_drawdown_rule_and_says_why(desk):
    account, market = desk
    losing = strategy_make(account=account, markets=[market], name="losing", stage=Strategy.Stage.LIVE)
    trades_make(losing, market, ["20", "-120", "-100"], first_day_ago=6)  # 1000 -> 1020 -> 800: 21.57% down

    [row] = strategies_review()

    losing.refresh_from_db()
    assert losing.status == Strategy.Status.PAUSED
    day = f"{timezone.now():%Y-%m-%d}"
    assert losing.status_reason == f"daily review {day}: max drawdown 21.57%; the rule allows at most 15%"
    assert (row.verdict, row.action, row.reason) == ("breach", "paused", losing.status_reason)
    assert row.max_drawdown_pct == pytest.approx(21.5686, abs=1e-3)
    breach = Event.objects.get(kind="strategy.rule_breached")
    assert breach.topic == f"strategies.{account.pk}"
    assert breach.payload | {} == {
        "strategy": losing.pk,
        "review": row.pk,
        "rule": "max_drawdown",
        "detail": "max drawdown 21.57%; the rule allows at most 15%",
        "action": "paused",
        "reason": losing.status_reason,
    }
    alert = built_in_alert(breach)
    assert alert.priority == Priority.HIGH and "max_drawdown" in alert.title and "21.57%" in alert.body
    # The pause itself is on the record (the system, audited) but not a second alert.
    pause = Event.objects.get(kind="strategy.paused")
    assert built_in_alert(pause) is None
    assert AuditEntry.objects.get(action="strategy.status_set").who is None


def test_a_strategy_within_its_rules_keeps_running(desk):
    account, market = desk
    fine = strategy_make(account=account, markets=[market], name="fine", stage=Strategy.Stage.LIVE)
    trades_make(fine, market, ["20", "-100", "30"], first_day_ago=6)  # 9.8% down: within 15%

    [row] = strategies_review()

    fine.refresh_from_db()
    assert fine.status == Strategy.Status.RUNNING and row.action == "" and row.verdict == "under"
    assert not Event.objects.filter(kind="strategy.rule_breached").exists()


def test_the_account_sets_the_drawdown_limit(desk):
    account, market = desk
    PromotionPolicy.objects.create(account=account, **{**PromotionPolicy.defaults(), "max_drawdown_pct": 5})
    strategy = strategy_make(account=account, markets=[market], stage=Strategy.Stage.LIVE)
    trades_make(strategy, market, ["20", "-100", "30"], first_day_ago=6)

    [row] = strategies_review()

    assert row.action == "paused" and "the rule allows at most 5%" in row.reason


def test_running_strategies_are_ranked_with_top_performers_candidates_and_the_regime(desk, live_as_backtested):
    account, market = desk
    PromotionPolicy.objects.create(account=account, **{**PromotionPolicy.defaults(), "min_trades": 8, "min_sharpe": 1})
    best = strategy_make(account=account, markets=[market], name="best", stage=Strategy.Stage.LIVE)
    trades_make(best, market, ["30", "20", "25"], first_day_ago=5)
    eth = btc_market("ETH/USDT")
    ready = on_paper(account=account, market=eth, days=15, name="ready")
    trades_make(ready, eth, ["5", "3", "-2", "4", "6", "2", "-1", "5"], first_day_ago=12)
    strategy_make(account=account, markets=[market], name="flat", stage=Strategy.Stage.LIVE)
    strategy_make(account=account, markets=[market], name="stopped", status=Strategy.Status.STOPPED)
    candles_make(market, 100 * np.exp(0.004 * np.arange(150)))
    candles_make(eth, 100 * (1 + 0.02 * np.sin(2 * np.pi * np.arange(150) / 20)))

    rows = {row.strategy.name: row for row in strategies_review()}

    assert sorted(rows) == ["best", "flat", "ready"]  # the stopped one is not reviewed
    assert [(rows[n].rank, rows[n].verdict) for n in ("best", "ready", "flat")] == [
        (1, "top"),
        (2, "candidate"),
        (3, "steady"),
    ]
    assert all(row.ranked == 3 for row in rows.values())
    assert {n: rows[n].regime for n in rows} == {"best": "trending", "flat": "trending", "ready": "ranging"}
    assert rows["best"].regime_figures["market"] == "BTC/USDT" and rows["best"].regime_figures["adx"] > 25
    assert rows["best"].pnl == 75 and rows["best"].trades == 3
    assert {rule["rule"] for rule in rows["ready"].rules} == {
        "max_drawdown",
        "paper_days",
        "min_paper_trades",
        "min_sharpe",
        "max_divergence",
    }
    ready.refresh_from_db()
    assert ready.stage == Strategy.Stage.PAPER  # a candidate waits for a trader's approval


def test_an_account_allowing_automatic_promotion_sends_its_candidates_live(desk, live_as_backtested):
    account, market = desk
    PromotionPolicy.objects.create(
        account=account, **{**PromotionPolicy.defaults(), "min_trades": 8, "min_sharpe": 1, "auto_live": True}
    )
    ready = on_paper(account=account, market=market, days=15, name="ready")
    trades_make(ready, market, ["5", "3", "-2", "4", "6", "2", "-1", "5"], first_day_ago=12)

    [row] = strategies_review()

    ready.refresh_from_db()
    assert ready.stage == Strategy.Stage.LIVE and row.action == "promoted"
    assert AuditEntry.objects.get(action="strategy.promote").who is None


def test_a_second_run_the_same_day_keeps_one_row_per_strategy(desk):
    account, market = desk
    strategy = strategy_make(account=account, markets=[market], stage=Strategy.Stage.LIVE)
    trades_make(strategy, market, ["10"], first_day_ago=2)

    strategies_review()
    strategies_review()

    assert StrategyReview.objects.filter(strategy=strategy).count() == 1


def test_beat_runs_the_review_every_day_at_five_past_midnight_on_the_research_queue(desk):
    beat_schedule_install(DEFAULT_BEAT_SCHEDULE)

    task = PeriodicTask.objects.get(task="apps.research.tasks.strategies_daily_review")
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone), task.queue) == ("5", "0", "UTC", "research")
    account, market = desk
    trades_make(strategy_make(account=account, markets=[market]), market, ["20", "-250"], first_day_ago=3)
    assert strategies_daily_review() == "1 strategies reviewed, 1 paused"
