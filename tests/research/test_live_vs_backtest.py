"""The nightly live-vs-backtest report: a demo strategy trades one UTC day of 15-minute candles on
a paper account through the live pipeline (the collector's store, the hook, the real evaluation
and placement tasks, the paper broker), then the day is compared with the engine's backtest of the
same stored candles. In parity every trade is matched; with one entry refused by a risk limit the
report names the rule for that trade and explains the exit that follows it; above the divergence
threshold the desk records an alert event, below it does not."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from apps.alerts.kinds import built_in_alert
from apps.alerts.models import Priority
from apps.common.models import Event
from apps.engine.market_sim import ANCHOR_MS, DAY_MS
from apps.engine.strategies.registry import strategy_build
from apps.markets.services import candles_store
from apps.research.live_vs_backtest import backtest_trades, divergence
from apps.research.live_vs_backtest_report import day_window, report_run
from apps.research.models import LiveBacktestReport
from apps.research.promotion import paper_period, rule_max_divergence
from apps.research.tasks import live_vs_backtest_nightly
from apps.risk.models import RiskLimits
from apps.strategies.models import PromotionPolicy, Strategy
from apps.trading.models import Fill, Signal
from apps.trading.tasks import strategies_on_candles_closed
from tests.markets.factories import collector_make
from tests.strategies.helpers import synthetic_rows
from tests.trading.factories import account_make, strategy_make
from tradedesk.celery import DEFAULT_BEAT_SCHEDULE

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.usefixtures("eager_tasks")]

DAY_START_MS = ANCHOR_MS + 800 * DAY_MS
DAY = datetime.fromtimestamp(DAY_START_MS / 1000, tz=UTC).date()
PERIOD = timedelta(minutes=15)
DEMO_EMA = {"fast": 2, "slow": 3}  # the demo desk's "Demo EMA crossover BTC" (apps/desk/demo_strategies.py)


def demo_day(capture, *, on_candle=lambda strategy: None, name: str = "Demo EMA crossover BTC"):
    """A demo EMA crossover strategy on a paper account (fee 0.1 %, no slippage), live for one UTC
    day of 15m candles: each candle stored and evaluated when it closes, the clock with it."""
    engine = strategy_build("ema_cross", DEMO_EMA)
    warmup = engine.warmup_period
    rows = synthetic_rows(count=warmup - 1 + 96, timeframe="15m", start_ms=DAY_START_MS - (warmup - 1) * 15 * 60_000)
    collector = collector_make(timeframe="15m")
    account = account_make(cash=Decimal("10000"), fee_rate=Decimal("0.001"), slippage_bps=Decimal("0"))
    strategy = strategy_make(
        account=account,
        markets=[collector.market],
        name=name,
        kind="ema_cross",
        params=engine.params,
        timeframe="15m",
        allocation=Decimal("1000"),
    )
    candles_store(collector=collector, rows=rows[: warmup - 1])
    assert rows[warmup - 1].open_time == datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    for row in rows[warmup - 1 :]:
        with time_machine.travel(row.open_time + PERIOD + timedelta(seconds=1), tick=False), capture(execute=True):
            inserted = candles_store(collector=collector, rows=[row])
            strategies_on_candles_closed(market_id=collector.market_id, timeframe="15m", open_times=inserted)
        on_candle(strategy)
    return strategy


def day_backtest(strategy):
    since, until = day_window(DAY)
    trades, _ = backtest_trades(strategy=strategy, start=since, end=until)
    return trades


def test_a_paper_strategy_in_parity_has_every_trade_of_its_day_matched_by_the_nightly_run(
    django_capture_on_commit_callbacks,
):
    strategy = demo_day(django_capture_on_commit_callbacks)
    strategy_make(account=strategy.account, markets=list(strategy.markets.all()), status=Strategy.Status.STOPPED)
    backtest = day_backtest(strategy)
    assert len(backtest) >= 4, "the day must trade, or parity proves nothing"
    assert Fill.objects.filter(order__strategy=strategy).count() == len(backtest)

    with time_machine.travel(datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(minutes=15)):
        queued = live_vs_backtest_nightly()

    assert queued == 1, "only the running strategy is compared"
    report = LiveBacktestReport.objects.get()
    assert (report.strategy, report.day, report.problem) == (strategy, DAY, "")
    assert (report.matched, report.missing, report.extra) == (len(backtest), 0, 0)
    assert report.pnl_difference == 0 and report.divergence == 0 and report.alerted_at is None
    assert [(row["time"], row["side"]) for row in report.trades] == [(t.time.isoformat(), t.side) for t in backtest]
    for row, trade in zip(report.trades, backtest, strict=True):
        assert (Decimal(row["live"]["price"]), Decimal(row["live"]["amount"])) == (trade.price, trade.amount)
        assert row["backtest"] == row["live"] and Decimal(row["slippage_pct"]) == 0
    assert report.slippage["p50_pct"] == "0" and report.slippage["p95_pct"] == "0"
    assert not Event.objects.filter(kind="strategy.diverged").exists()
    assert divergence(strategy, since=report.window_start, until=report.window_end) == 0


def refuse_the_first_entry(strategy):
    """A max order notional below the allocation until the strategy's first entry is refused."""
    refused = Signal.objects.filter(strategy=strategy, side="buy", status=Signal.Status.REJECTED).exists()
    if not refused:
        RiskLimits.objects.update_or_create(strategy=strategy, defaults={"max_order_notional": Decimal("50")})
    else:
        RiskLimits.objects.filter(strategy=strategy).delete()


@pytest.fixture
def refused_day(django_capture_on_commit_callbacks):
    RiskLimits.objects.all().delete()
    return demo_day(django_capture_on_commit_callbacks, on_candle=refuse_the_first_entry, name="Demo EMA refused once")


def test_an_entry_refused_by_a_risk_limit_is_missing_with_the_rule_and_its_exit_follows_it(refused_day):
    strategy = refused_day
    backtest = day_backtest(strategy)
    first_buy = next(t for t in backtest if t.side == "buy")
    its_exit = next(t for t in backtest if t.side == "sell" and t.time > first_buy.time)

    call_command("live_vs_backtest", "--strategy", str(strategy.pk), "--day", DAY.isoformat(), stdout=(out := _Out()))

    report = LiveBacktestReport.objects.get(strategy=strategy, day=DAY)
    assert (report.matched, report.missing, report.extra) == (len(backtest) - 2, 2, 0)
    missing = [row for row in report.trades if row["status"] == "missing"]
    assert [(row["time"], row["side"]) for row in missing] == [
        (first_buy.time.isoformat(), "buy"),
        (its_exit.time.isoformat(), "sell"),
    ]
    refusal, knock_on = missing
    assert (refusal["reason"], refusal["reason_label"], refusal["rule"]) == ("risk_refusal", "risk refusal", "max_order_notional")
    assert "exceeds max order notional 50" in refusal["detail"]
    assert knock_on["reason"] == "knock_on" and knock_on["rule"] == "nothing_to_close"
    assert not [row for row in report.trades if row.get("reason") == "unexplained"]
    # The difference is the round trip live did not make: its P&L, fees included, with the sign turned.
    round_trip = its_exit.amount * its_exit.price - its_exit.fee_quote - first_buy.amount * first_buy.price - first_buy.fee_quote
    assert report.pnl_difference == -round_trip
    assert report.divergence == (abs(round_trip) / 1000).quantize(Decimal("1E-8"))
    assert "risk refusal [max_order_notional]" in out.text and "2 missing" in out.text


def test_the_divergence_event_fires_above_the_threshold_once_and_not_below(refused_day):
    strategy = refused_day
    since, until = day_window(DAY)
    found = divergence(strategy, since=since, until=until)
    assert found and found > 0

    below = report_run(strategy_id=strategy.pk, day=DAY, threshold=found * 2)
    assert below.alerted_at is None and not Event.objects.filter(kind="strategy.diverged").exists()

    above = report_run(strategy_id=strategy.pk, day=DAY, threshold=found / 2)
    report_run(strategy_id=strategy.pk, day=DAY, threshold=found / 2)  # a rerun replaces the row, never alerts twice

    assert above.alerted_at is not None and LiveBacktestReport.objects.filter(strategy=strategy).count() == 1
    event = Event.objects.get(kind="strategy.diverged")
    assert event.topic == f"strategies.{strategy.account_id}"
    assert event.payload["strategy"] == strategy.pk and event.payload["day"] == DAY.isoformat()
    assert event.payload["missing"] == 2 and "1 risk refusal" in event.payload["summary"]
    alert = built_in_alert(event)
    assert alert.priority == Priority.HIGH and alert.dedup_key == f"strategy.diverged:{strategy.pk}:{DAY.isoformat()}"


def test_promotion_to_live_measures_the_paper_period_live_beside_its_backtest(refused_day):
    """The promotion rule max_divergence reads this same comparison over the paper period: the
    missed round trip of the refused entry, as a % of the allocation, against the policy's limit."""
    strategy = refused_day
    since, until = day_window(DAY)
    Strategy.objects.filter(pk=strategy.pk).update(stage=Strategy.Stage.PAPER, stage_changed_at=since)
    strategy.refresh_from_db()
    pct = divergence(strategy, since=since, until=until) * 100
    assert pct > 0

    def judged(limit):
        policy = PromotionPolicy(account=strategy.account, **{**PromotionPolicy.defaults(), "max_divergence_pct": limit})
        return rule_max_divergence(paper_period(strategy, now=until, policy=policy))

    strict, lenient = judged(pct / 2), judged(pct * 2)
    assert (strict.rule, strict.passed, lenient.passed) == ("max_divergence", False, True)
    assert strict.detail.startswith("live differs from its backtest by ") and "% of the allocation" in strict.detail


def test_the_nightly_run_is_installed_at_00_15_utc_on_the_research_queue():
    from django_celery_beat.models import PeriodicTask

    from apps.desk.beat import beat_schedule_install

    beat_schedule_install(DEFAULT_BEAT_SCHEDULE)

    nightly = PeriodicTask.objects.get(task="apps.research.tasks.live_vs_backtest_nightly")
    assert (nightly.crontab.minute, nightly.crontab.hour, str(nightly.crontab.timezone)) == ("15", "0", "UTC")
    assert nightly.queue == "research"


def test_a_strategy_not_live_that_day_has_nothing_to_compare():
    account = account_make()
    strategy = strategy_make(account=account, markets=[collector_make(timeframe="15m").market], kind="ema_cross")

    report = report_run(strategy_id=strategy.pk, day=date(2026, 3, 1))

    assert report.problem == "Not evaluated live in this period: nothing to compare."
    assert report.divergence is None and report.alerted_at is None
    assert divergence(strategy, since=report.window_start, until=report.window_end) is None


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass
