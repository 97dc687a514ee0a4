"""Collector metrics for /metrics, read from the database at scrape time so that work done
in worker processes shows up in the web process that serves the scrape."""

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from apps.common.metrics import database_collector_register


class CollectorMetrics:
    def describe(self):
        # Lets the registry check names without querying the database at import time.
        return [
            CounterMetricFamily("tradedesk_candles_stored", "", labels=[]),
            CounterMetricFamily("tradedesk_collector_fetch_errors", "", labels=[]),
            GaugeMetricFamily("tradedesk_candle_data_age_seconds", "", labels=[]),
        ]

    def collect(self):
        from apps.markets.models import CollectorStatus

        stored = CounterMetricFamily("tradedesk_candles_stored", "Closed candles stored", labels=["market", "timeframe"])
        errors = CounterMetricFamily(
            "tradedesk_collector_fetch_errors", "Candle fetch errors", labels=["market", "timeframe", "error_class"]
        )
        age = GaugeMetricFamily(
            "tradedesk_candle_data_age_seconds", "Seconds since the newest stored candle closed", labels=["market", "timeframe"]
        )
        now = timezone.now()
        try:
            collectors = list(CollectorStatus.objects.select_related("market"))
        except Exception:
            collectors = []
        for collector in collectors:
            labels = [collector.market.symbol, collector.timeframe]
            stored.add_metric(labels, collector.candles_stored)
            for error_class, count in collector.error_counts.items():
                errors.add_metric([*labels, error_class], count)
            data_age = collector.data_age(now)
            if data_age is not None:
                age.add_metric(labels, data_age.total_seconds())
        yield from (stored, errors, age)


def register_collector_metrics() -> None:
    database_collector_register(CollectorMetrics())
