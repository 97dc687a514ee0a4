"""The collector as it runs in production: beat's task on a real Celery worker, real Redis
broker, real PostgreSQL, the real ccxt client against the simulated exchange."""

import pytest

from apps.common.models import Event
from apps.markets.models import Candle
from apps.markets.tasks import candles_collect, collect_due
from apps.simexchange.faults import ErrorFault
from tests.workers import celery_worker, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_beat_task_collects_each_candle_exactly_once_on_a_worker(collector):
    with celery_worker():
        assert collect_due.delay().get(timeout=30) == 1
        wait_until(lambda: Candle.objects.count() >= 500, message="500 candles stored")
        stored = Candle.objects.count()

        again = candles_collect.delay(collector.pk).get(timeout=30)

    assert Candle.objects.count() == stored + again["inserted"]
    assert again["inserted"] <= 1  # at most the one candle that closed meanwhile


def test_two_workers_collecting_the_same_market_at_once_store_and_announce_each_candle_once(collector):
    with celery_worker(concurrency=2):
        results = [candles_collect.delay(collector.pk) for _ in range(2)]
        inserted = sorted(result.get(timeout=60)["inserted"] for result in results)

    stored = Candle.objects.count()
    announced = sum(event.payload["count"] for event in Event.objects.filter(kind="candles.backfilled"))
    announced += Event.objects.filter(kind="candle.closed").count()
    assert stored >= 500 and sum(inserted) == stored
    assert announced == stored


def test_on_a_worker_a_gap_is_repaired(collector):
    with celery_worker():
        candles_collect.delay(collector.pk).get(timeout=60)
        stored = list(Candle.objects.order_by("open_time").values_list("open_time", flat=True))
        Candle.objects.filter(open_time__in=stored[200:205]).delete()

        result = candles_collect.delay(collector.pk).get(timeout=60)

    assert result["gaps_repaired"] == 5
    assert list(Candle.objects.order_by("open_time").values_list("open_time", flat=True))[: len(stored)] == stored


def test_on_a_worker_a_rate_limit_then_an_outage_is_retried_and_succeeds(collector, sim):
    sim.faults.error_add(ErrorFault(status=429, code=-1003, path="/api/v3/klines"))
    sim.faults.error_add(ErrorFault(status=503, path="/api/v3/klines"))

    with celery_worker():
        result = candles_collect.delay(collector.pk).get(timeout=60)

    collector.refresh_from_db()
    assert result["inserted"] == 500
    assert collector.consecutive_errors == 0
    assert sim.faults.describe()["errors"] == []


def test_on_a_worker_a_bad_signature_is_not_retried_and_is_recorded(collector, sim):
    sim.faults.error_add(ErrorFault(status=400, code=-1022, path="/api/v3/klines", remaining=2))

    with celery_worker():
        result = candles_collect.delay(collector.pk).get(timeout=60)

    collector.refresh_from_db()
    assert result["inserted"] == 0
    assert (collector.last_error_class, collector.error_counts) == ("authentication", {"authentication": 1})
    assert sim.faults.describe()["errors"][0]["remaining"] == 1
