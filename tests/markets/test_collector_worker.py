"""The collector as it runs in production: beat's task on a real Celery worker, real Redis
broker, real PostgreSQL, the real ccxt client against the simulated exchange."""

import pytest

from apps.common.models import Event
from apps.markets.models import Candle
from apps.markets.tasks import candles_collect, collect_due
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
