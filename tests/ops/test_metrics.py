"""The seed's metric names on /metrics: counted where the work happens (in any process of the
desk), gauges read from the database at scrape time."""

import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.common.ops_hooks import circuit_breaker_reader_set
from apps.engine.strategies import registry
from apps.engine.strategies.base import SignalArrays
from apps.engine.strategies.base import Strategy as EngineStrategy
from apps.markets.services import candles_store
from apps.trading.metrics import order_slippage_pct
from apps.trading.services.evaluation import strategy_evaluate
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.venue_health import circuit_breakers_read
from tests.markets.factories import collector_make
from tests.simulated_exchange import simexchange_running
from tests.strategies.helpers import synthetic_rows
from tests.trading.factories import account_make, signal_make, strategy_make
from tests.trading.sim import sim_desk

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "seed-metrics-token"


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=0.05) as exchange:
        yield exchange


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return read


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def place(strategy, market, capture, **kwargs):
    with capture(execute=True):
        order = signal_execute(signal_id=signal_make(strategy=strategy, market=market, **kwargs).pk)
        order_submit(order_id=order.pk)
    order.refresh_from_db()
    return order


def test_a_filled_order_is_counted_submitted_and_filled_with_its_submission_time(sim, scrape, django_capture_on_commit_callbacks):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"), name="ema-fast")
    before = scrape()

    order = place(strategy, market, django_capture_on_commit_callbacks)

    after = scrape()
    assert order.status == "filled"
    submitted = {"symbol": "BTC/USDT", "order_type": "market", "strategy": "ema-fast"}
    assert (
        value(after, "trading_orders_submitted_total", **submitted) - value(before, "trading_orders_submitted_total", **submitted)
        == 1
    )
    filled = {"symbol": "BTC/USDT", "strategy": "ema-fast"}
    assert value(after, "trading_orders_filled_total", **filled) - value(before, "trading_orders_filled_total", **filled) == 1
    timed = value(after, "trading_order_submission_seconds_count", symbol="BTC/USDT")
    assert timed - value(before, "trading_order_submission_seconds_count", symbol="BTC/USDT") == 1
    assert value(after, "trading_order_submission_seconds_bucket", symbol="BTC/USDT", le="5.0") == timed
    assert value(after, "trading_open_positions", symbol="BTC/USDT") == 1
    assert ("trading_strategy_pnl_usdt", (("strategy", "ema-fast"),)) in after


def test_an_order_the_exchange_refuses_is_counted_rejected_with_its_error_class(sim, scrape, django_capture_on_commit_callbacks):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("99000"))
    sim.state.accounts[account.api_key].free["USDT"] = D("10")
    before = scrape()

    order = place(strategy, market, django_capture_on_commit_callbacks)

    after = scrape()
    assert order.status == "rejected"
    rejected = {"symbol": "BTC/USDT", "reason": "insufficient_funds"}
    assert (
        value(after, "trading_orders_rejected_total", **rejected) - value(before, "trading_orders_rejected_total", **rejected)
        == 1
    )
    errors = {"service": "sim", "error_type": "insufficient_funds"}
    assert value(after, "trading_api_errors_total", **errors) - value(before, "trading_api_errors_total", **errors) == 1


class BuysEveryCandle(EngineStrategy):
    name = "buys_every_candle"

    @property
    def warmup_period(self):
        return 5

    def signals(self, candles):
        n = len(candles)
        yes, no = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        return SignalArrays(yes, no, no, no, indicators={})


def test_a_signal_a_strategy_decides_is_counted_by_strategy_and_side(monkeypatch, scrape):
    monkeypatch.setattr(registry, "_registry", {**registry.strategy_classes(), "buys_every_candle": BuysEveryCandle})
    collector = collector_make()
    candles_store(collector=collector, rows=synthetic_rows(count=20))
    collector.refresh_from_db()
    strategy = strategy_make(account=account_make(), markets=[collector.market], kind="buys_every_candle", name="always")
    before = scrape()

    strategy_evaluate(strategy_id=strategy.pk, market_id=collector.market_id, candle_time=collector.last_candle_time)

    labels = {"strategy": "always", "signal_type": "buy"}
    assert (
        value(scrape(), "trading_signals_generated_total", **labels) - value(before, "trading_signals_generated_total", **labels)
        == 1
    )


def test_counts_of_another_process_show_in_the_scrape_of_this_one(scrape):
    """A worker's increments reach the web process's /metrics (multiprocess mode), even after it exited."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tradedesk.settings", "TRADEDESK_TESTING": "1"}
    code = (
        "import django; django.setup(); from apps.common import metrics; "
        "metrics.api_errors.labels('worker-elsewhere', 'timeout').inc(3)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)

    assert value(scrape(), "trading_api_errors_total", service="worker-elsewhere", error_type="timeout") == 3


def test_every_exchange_account_has_a_closed_circuit_breaker_until_a_breaker_reports_otherwise(sim, scrape):
    sim_desk(sim, name="sim")
    account_make(name="paper-only")  # a paper account calls no exchange: no breaker

    assert {labels: v for (name, labels), v in scrape().items() if name == "trading_circuit_breaker_state"} == {
        (("service", "sim"),): 0
    }


def test_the_circuit_breaker_gauge_reads_what_the_installed_reader_says(scrape):
    circuit_breaker_reader_set(lambda: {"sim": "open", "live": "closed", "backup": "half_open"})
    try:
        samples = scrape()
    finally:
        circuit_breaker_reader_set(circuit_breakers_read)

    assert value(samples, "trading_circuit_breaker_state", service="sim") == 2
    assert value(samples, "trading_circuit_breaker_state", service="backup") == 1
    assert value(samples, "trading_circuit_breaker_state", service="live") == 0


@pytest.mark.parametrize(
    ("side", "reference", "average", "slippage"),
    [("buy", D("100"), D("100.5"), D("0.5")), ("sell", D("100"), D("99"), D("1")), ("buy", D("100"), D("99.9"), D("-0.1"))],
)
def test_slippage_is_adverse_when_paying_more_or_receiving_less(side, reference, average, slippage):
    assert order_slippage_pct(side=side, reference=reference, average=average) == slippage


@pytest.mark.django_db(transaction=True)
def test_the_relay_times_each_event_from_its_write_to_its_delivery(scrape):
    from asgiref.sync import async_to_sync
    from channels.layers import InMemoryChannelLayer

    from apps.common.models import Event
    from apps.web.relay import RelayCursor, relay_pass

    event = Event.objects.create(topic="orders.1", kind="order.created", payload={})
    before = value(scrape(), "trading_event_bus_latency_seconds_count", topic="orders")

    async_to_sync(relay_pass)(InMemoryChannelLayer(), RelayCursor(last_id=event.id - 1))

    assert value(scrape(), "trading_event_bus_latency_seconds_count", topic="orders") - before == 1
