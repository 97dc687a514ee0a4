"""Trading metrics for /metrics, read from the database at scrape time (the work happens in
worker processes; the web process serves the scrape). Prometheus values are floats: these are
for dashboards and alerts, the admin shows the exact Decimals."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from apps.common.logging import get_logger
from apps.common.metrics import database_collector_register
from apps.common.ops_hooks import BREAKER_STATES, circuit_breaker_states, reconciliation_ages
from apps.engine.risk_rules import KillState

log = get_logger(__name__)
SLIPPAGE_WINDOW = timedelta(hours=1)
USDT = "USDT"

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
    "tradedesk_reconciliation_age_seconds": "Seconds since the account's last successful reconciliation",
    "trading_open_positions": "Open positions per symbol, every account (dust is none)",
    "trading_unrealized_pnl_usdt": "Unrealized P&L per symbol at the last price, every account (USDT-quoted markets)",
    "trading_strategy_pnl_usdt": "Realized + unrealized P&L of the positions each strategy opened (USDT-quoted markets)",
    "trading_circuit_breaker_state": "Circuit breaker per service: 0 closed, 1 half-open, 2 open",
    "trading_order_slippage_pct": "Average adverse slippage of the market orders filled in the last hour, % of the reference price",
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
            _per_symbol_and_strategy(families)
            _slippage(families)
            _operations(families)
        except Exception:
            log.exception("a database metric could not be read; the scrape shows what was read before it")
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
    "tradedesk_reconciliation_age_seconds": ["account"],
    "trading_open_positions": ["symbol"],
    "trading_unrealized_pnl_usdt": ["symbol"],
    "trading_strategy_pnl_usdt": ["strategy"],
    "trading_circuit_breaker_state": ["service"],
    "trading_order_slippage_pct": ["symbol"],
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


def _per_symbol_and_strategy(families) -> None:
    from apps.trading.models import Position

    open_positions: dict[str, int] = defaultdict(int)
    unrealized: dict[str, Decimal] = defaultdict(Decimal)
    for symbol, quote, pnl in Position.objects.open().values_list("market__symbol", "market__quote", "unrealized_pnl"):
        open_positions[symbol] += 1
        if quote == USDT:
            unrealized[symbol] += pnl
    for symbol, count in open_positions.items():
        families["trading_open_positions"].add_metric([symbol], count)
    for symbol, pnl in unrealized.items():
        families["trading_unrealized_pnl_usdt"].add_metric([symbol], float(pnl))
    by_strategy: dict[str, Decimal] = defaultdict(Decimal)
    rows = Position.objects.filter(strategy__isnull=False, market__quote=USDT).values_list(
        "strategy__name", "realized_pnl", "unrealized_pnl"
    )
    for name, realized, unrealized_pnl in rows:
        by_strategy[name] += realized + unrealized_pnl
    for name, pnl in by_strategy.items():
        families["trading_strategy_pnl_usdt"].add_metric([name], float(pnl))


def order_slippage_pct(*, side: str, reference: Decimal, average: Decimal) -> Decimal:
    """Adverse slippage in % of the reference price: paying more on a buy, getting less on a sell."""
    moved = (average - reference) if side == "buy" else (reference - average)
    return moved / reference * 100


def _slippage(families) -> None:
    from apps.trading.models import Order

    rows = Order.objects.filter(
        type=Order.Type.MARKET,
        status="filled",
        price__gt=0,
        average_price__isnull=False,
        updated_at__gte=timezone.now() - SLIPPAGE_WINDOW,
    ).values_list("market__symbol", "side", "price", "average_price")
    per_symbol: dict[str, list[Decimal]] = defaultdict(list)
    for symbol, side, reference, average in rows:
        per_symbol[symbol].append(order_slippage_pct(side=side, reference=reference, average=average))
    for symbol, values in per_symbol.items():
        families["trading_order_slippage_pct"].add_metric([symbol], float(sum(values) / len(values)))


def _operations(families) -> None:
    for service, state in circuit_breaker_states().items():
        families["trading_circuit_breaker_state"].add_metric([service], BREAKER_STATES[state])
    for account, age in reconciliation_ages().items():
        if age is not None:
            families["tradedesk_reconciliation_age_seconds"].add_metric([account], age)


def register_trading_metrics() -> None:
    database_collector_register(TradingMetrics())
