"""Trading metrics for /metrics, read from the database at scrape time (the work happens in
worker processes; the web process serves the scrape). Prometheus values are floats: these are
for dashboards and alerts, the admin shows the exact Decimals."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

from apps.engine.risk_rules import KillState

KILL_LEVEL = {KillState.ACTIVE: 0, KillState.REDUCE_ONLY: 1, KillState.HALTED: 2}
NAMES = {
    "tradedesk_orders": "Orders by account and status (unknown and submitting deserve an alert)",
    "tradedesk_signals": "Signals by account and status",
    "tradedesk_position_amount": "Amount held, per account and market (base currency; dust included)",
    "tradedesk_open_positions": "Open positions per account (at least one amount step and the minimum notional; dust is none)",
    "tradedesk_position_realized_pnl": "Realized P&L after fees, per account and market (quote)",
    "tradedesk_position_unrealized_pnl": "Unrealized P&L at the last price, per account and market (quote)",
    "tradedesk_kill_switch": "Kill switch: 0 active, 1 reduce-only, 2 halted (account '' = global)",
    "tradedesk_strategy_consecutive_failures": "Failures in a row; the strategy pauses at its limit",
    "tradedesk_reconcile_unknown_orders": "Orders open on the exchange that the desk did not place (last reconciliation)",
}


class TradingMetrics:
    def describe(self):
        # Lets the registry check names without querying the database at import time.
        return [GaugeMetricFamily(name, "", labels=[]) for name in NAMES]

    def collect(self):
        families = {name: GaugeMetricFamily(name, help_text, labels=LABELS[name]) for name, help_text in NAMES.items()}
        try:
            _orders_and_signals(families)
            _positions(families)
            _controls(families)
        except Exception:
            pass
        yield from families.values()


LABELS = {
    "tradedesk_orders": ["account", "status"],
    "tradedesk_signals": ["account", "status"],
    "tradedesk_position_amount": ["account", "market"],
    "tradedesk_position_realized_pnl": ["account", "market"],
    "tradedesk_position_unrealized_pnl": ["account", "market"],
    "tradedesk_open_positions": ["account"],
    "tradedesk_kill_switch": ["account"],
    "tradedesk_strategy_consecutive_failures": ["strategy"],
    "tradedesk_reconcile_unknown_orders": ["account"],
}


def _orders_and_signals(families) -> None:
    from apps.trading.models import Order, Signal

    for model, name in ((Order, "tradedesk_orders"), (Signal, "tradedesk_signals")):
        rows = model.objects.order_by().values("account__name", "status").annotate(count=Count("id"))
        for row in rows:
            families[name].add_metric([row["account__name"], row["status"]], row["count"])


def _positions(families) -> None:
    from apps.trading.models import Position

    open_count: dict[str, int] = {}
    for position in Position.objects.select_related("account", "market"):
        labels = [position.account.name, position.market.symbol]
        families["tradedesk_position_amount"].add_metric(labels, float(position.amount))
        families["tradedesk_position_realized_pnl"].add_metric(labels, float(position.realized_pnl))
        families["tradedesk_position_unrealized_pnl"].add_metric(labels, float(position.unrealized_pnl))
        open_count[position.account.name] = open_count.get(position.account.name, 0) + position.is_open
    for account, count in open_count.items():
        families["tradedesk_open_positions"].add_metric([account], count)


def _controls(families) -> None:
    from apps.exchanges.models import ExchangeAccount
    from apps.risk.models import KillSwitch
    from apps.strategies.models import Strategy
    from apps.trading.services.reconcile import reconcile_last_scan

    for switch in KillSwitch.objects.select_related("account"):
        families["tradedesk_kill_switch"].add_metric(
            [switch.account.name if switch.account else ""], KILL_LEVEL[KillState(switch.state)]
        )
    for name, failures in Strategy.objects.values_list("name", "consecutive_failures"):
        families["tradedesk_strategy_consecutive_failures"].add_metric([name], failures)
    for account_id, name in ExchangeAccount.objects.values_list("pk", "name"):
        last = reconcile_last_scan(account_id=account_id)
        if last:
            families["tradedesk_reconcile_unknown_orders"].add_metric([name], last.get("unknown_orders", 0))


_registered = False


def register_trading_metrics() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(TradingMetrics())
        _registered = True
