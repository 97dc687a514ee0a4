"""Live evaluation: signals with their reasons, isolation of a failing strategy, idempotence."""

from datetime import UTC, datetime

import numpy as np
import pytest

from apps.engine.strategies import registry
from apps.engine.strategies.base import Strategy as EngineStrategy
from apps.markets.services import candles_store
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.trading.models import Signal
from apps.trading.services.evaluation import strategy_evaluate
from apps.trading.tasks import strategies_on_candles_closed
from tests.markets.factories import collector_make
from tests.trading.factories import account_make, strategy_make

from .helpers import synthetic_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


class Explodes(EngineStrategy):
    name = "explodes"

    @property
    def warmup_period(self):
        return 5

    def signals(self, candles):
        raise ZeroDivisionError("the strategy's own bug")


class BuysEveryCandle(EngineStrategy):
    name = "buys_every_candle"

    @property
    def warmup_period(self):
        return 5

    def signals(self, candles):
        from apps.engine.strategies.base import SignalArrays

        n = len(candles)
        yes, no = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        return SignalArrays(yes, no, no, no, stop_loss=candles.close * 0.98, indicators={"close": candles.close})


@pytest.fixture
def test_strategies(monkeypatch):
    classes = {**registry.strategy_classes(), "explodes": Explodes, "buys_every_candle": BuysEveryCandle}
    monkeypatch.setattr(registry, "_registry", classes)


@pytest.fixture
def collector():
    collector = collector_make()
    candles_store(collector=collector, rows=synthetic_rows(count=20))
    return collector


def newest(collector):
    collector.refresh_from_db()
    return collector.last_candle_time


@pytest.mark.usefixtures("test_strategies")
def test_a_strategy_that_raises_is_recorded_and_counted_while_the_others_go_on(collector, django_capture_on_commit_callbacks):
    account = account_make()
    broken = strategy_make(account=account, markets=[collector.market], kind="explodes")
    healthy = strategy_make(account=account, markets=[collector.market], kind="buys_every_candle")

    with django_capture_on_commit_callbacks(execute=True):
        strategies_on_candles_closed(market_id=collector.market_id, timeframe="1m", open_times=[newest(collector)])

    failed = StrategyEvaluation.objects.get(strategy=broken)
    assert failed.outcome == "error" and "ZeroDivisionError: the strategy's own bug" in failed.detail
    broken.refresh_from_db()
    assert broken.failure_count == 1 and broken.status == Strategy.Status.RUNNING
    assert StrategyEvaluation.objects.get(strategy=healthy).outcome == "signal"
    assert Signal.objects.filter(strategy=healthy).count() == 1


@pytest.mark.usefixtures("test_strategies")
def test_a_signal_keeps_its_side_intent_price_stop_and_the_indicators_behind_it(collector):
    strategy = strategy_make(account=account_make(), markets=[collector.market], kind="buys_every_candle")
    candle_time = newest(collector)

    strategy_evaluate(strategy_id=strategy.pk, market_id=collector.market_id, candle_time=candle_time)

    signal = Signal.objects.get()
    close = collector.market.candles.get(open_time=candle_time).close
    assert (signal.side, signal.intent, signal.candle_time, signal.price) == ("buy", "open", candle_time, close)
    assert float(signal.stop_loss) == pytest.approx(float(close) * 0.98)
    assert signal.indicators == {"close": float(close)}
    assert "entry long at close" in signal.reason


@pytest.mark.usefixtures("test_strategies")
def test_a_rejected_signal_is_stored_with_the_rejection_reason(collector):
    from apps.risk.services import kill_switch_set

    strategy = strategy_make(account=account_make(), markets=[collector.market], kind="buys_every_candle")
    kill_switch_set(actor=None, state="halted", reason="maintenance")

    strategy_evaluate(strategy_id=strategy.pk, market_id=collector.market_id, candle_time=newest(collector))

    signal = Signal.objects.get()
    assert signal.status == "rejected" and "kill switch is HALTED" in signal.rejection_reason


@pytest.mark.usefixtures("test_strategies")
def test_evaluating_the_same_candle_twice_stores_one_evaluation_and_one_signal(collector):
    strategy = strategy_make(account=account_make(), markets=[collector.market], kind="buys_every_candle")
    for _ in range(2):
        strategy_evaluate(strategy_id=strategy.pk, market_id=collector.market_id, candle_time=newest(collector))
    assert StrategyEvaluation.objects.count() == 1 and Signal.objects.count() == 1


@pytest.mark.usefixtures("test_strategies")
def test_paused_and_stopped_strategies_are_not_evaluated(collector, django_capture_on_commit_callbacks):
    account = account_make()
    strategy_make(account=account, markets=[collector.market], kind="buys_every_candle", status=Strategy.Status.PAUSED)
    strategy_make(account=account, markets=[collector.market], kind="buys_every_candle", status=Strategy.Status.STOPPED)
    with django_capture_on_commit_callbacks(execute=True):
        assert strategies_on_candles_closed(market_id=collector.market_id, timeframe="1m", open_times=[newest(collector)]) == 0
    assert not StrategyEvaluation.objects.exists()


def test_too_few_candles_for_the_warmup_is_logged_as_skipped(collector):
    strategy = strategy_make(account=account_make(), markets=[collector.market], kind="ema_cross", params={})
    evaluation = strategy_evaluate(strategy_id=strategy.pk, market_id=collector.market_id, candle_time=newest(collector))
    assert evaluation.outcome == "skipped" and "of 95 warm-up candles" in evaluation.detail


def test_a_candle_that_is_not_stored_is_skipped_not_guessed(collector):
    strategy = strategy_make(account=account_make(), markets=[collector.market], kind="ema_cross", params={})
    evaluation = strategy_evaluate(
        strategy_id=strategy.pk, market_id=collector.market_id, candle_time=datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert evaluation.outcome == "skipped" and "not stored" in evaluation.detail
