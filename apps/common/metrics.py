"""The desk's Prometheus metrics, under the names seed 002 gives them.

Two kinds, chosen by where the truth lives:
- what happens in a process (an order sent, a fill applied, a signal decided, an exchange error,
  an event relayed, how long a create took) is counted where it happens, in multiprocess mode
  (apps/common/prometheus.py): counters and histograms survive as files when a worker dies;
- what the database knows (open positions, P&L, order and signal counts by status, the circuit
  breakers' state) is read at scrape time by the collectors the apps register here, so a gauge
  is never stale from a process that has gone.

Label values are bounded: a symbol, a strategy's name, an order type, an error class, a topic's
first word. Counters are incremented after the transaction commits (a rollback counts nothing).
"""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

SUBMISSION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
EVENT_BUS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

orders_submitted = Counter("trading_orders_submitted", "Order creates sent to the exchange", ["symbol", "order_type", "strategy"])
orders_filled = Counter("trading_orders_filled", "Orders completely filled", ["symbol", "strategy"])
orders_rejected = Counter(
    "trading_orders_rejected",
    "Orders rejected (by the exchange: its error class; by the desk: kill_switch, refused_on_resend)",
    ["symbol", "reason"],
)
signals_generated = Counter(
    "trading_signals_generated", "Signals a strategy decided on a closed candle", ["strategy", "signal_type"]
)
api_errors = Counter(
    "trading_api_errors",
    "Failed exchange calls (service: the account, or the exchange for market data)",
    ["service", "error_type"],
)
order_submission_seconds = Histogram(
    "trading_order_submission_seconds", "Time of the exchange's create call", ["symbol"], buckets=SUBMISSION_BUCKETS
)
event_bus_latency_seconds = Histogram(
    "trading_event_bus_latency_seconds",
    "From an outbox event's commit to its delivery to the pages (topic: its first word)",
    ["topic"],
    buckets=EVENT_BUS_BUCKETS,
)
# Incremented by holdings reconciliation for each difference it finds (case: external_close,
# external_position, quantity_mismatch, ...).
reconciliation_mismatches = Counter(
    "trading_reconciliation_mismatches", "Differences between the exchange's holdings and the desk's", ["account", "case"]
)

_database_collectors: list = []


def database_collector_register(collector) -> None:
    """A collector reading the database at scrape time (an object with describe() and collect())."""
    if all(type(known) is not type(collector) for known in _database_collectors):
        _database_collectors.append(collector)


def scrape_text() -> bytes:
    """Every process's counters and histograms, and the database's gauges, in Prometheus text."""
    registry = CollectorRegistry(auto_describe=True)
    MultiProcessCollector(registry)
    for collector in _database_collectors:
        registry.register(collector)
    return generate_latest(registry)
