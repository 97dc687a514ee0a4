"""Trading work. Thin: take ids, call one service. Queues: strategy evaluation on `strategies`,
the rest on `orders` (tradedesk/celery.py routes them)."""

from datetime import datetime

from celery import shared_task

from apps.common.logging import get_logger
from apps.common.time import utc_datetime
from apps.exchanges.models import ExchangeAccount

log = get_logger(__name__)


def strategies_on_candles_closed(*, market_id: int, timeframe: str, open_times: list[datetime]) -> int:
    """Call after the candles' transaction committed. Queues strategy_evaluate for each running
    strategy on (market, timeframe), for the newest candle only: a burst of older candles is a
    catch-up, and trading on a stale candle is what the desk must not do."""
    from apps.strategies.selectors import strategies_running_on

    if not open_times:
        return 0
    newest = max(open_times)
    strategy_ids = strategies_running_on(market_id=market_id, timeframe=timeframe)
    for strategy_id in strategy_ids:
        strategy_evaluate.delay(strategy_id, market_id, newest.isoformat())
    price_updated.delay(market_id, "candle")
    return len(strategy_ids)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=30, time_limit=45)
def strategy_evaluate(strategy_id: int, market_id: int, candle_time: str) -> str | None:
    """Idempotent: one evaluation per (strategy, market, candle), so a redelivery is a no-op."""
    from apps.trading.services.evaluation import strategy_evaluate as evaluate

    evaluation = evaluate(strategy_id=strategy_id, market_id=market_id, candle_time=utc_datetime(candle_time))
    return evaluation.outcome if evaluation else None


@shared_task(acks_late=True, ignore_result=True)
def order_submit(order_id: int) -> None:
    """Safe to deliver twice: only the worker whose conditional UPDATE claims the order sends it."""
    from apps.trading.services.orders import order_submit as submit

    submit(order_id=order_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def order_resolve(self, order_id: int, lookups: int = 0) -> str:
    """Look the UNKNOWN order up by client_order_id; again, on the service's schedule, until it
    is known. `lookups`: answered look-ups since the exchange last did not answer."""
    from apps.trading.services.orders import resolve_delay
    from apps.trading.services.resolution import order_resolve as resolve

    outcome = resolve(order_id=order_id)
    countdown = resolve_delay(outcome=outcome, lookups=lookups)
    if countdown is not None:
        raise self.retry(args=(order_id, 0 if outcome == "unreachable" else lookups + 1), countdown=countdown)
    return outcome


@shared_task(acks_late=True, ignore_result=True)
def orders_sweep() -> dict:
    from apps.trading.services.resolution import orders_sweep as sweep

    return sweep()


@shared_task(acks_late=True, ignore_result=True)
def price_updated(market_id: int, source: str = "") -> dict:
    from apps.trading.services.protection import price_updated as updated

    return updated(market_id=market_id)


@shared_task(acks_late=True, ignore_result=True)
def prices_poll() -> int:
    """Beat: ticker prices for every active account's markets, then protective exits."""
    from apps.trading.services.accounts import prices_poll as poll
    from apps.trading.services.protection import price_updated as updated

    count = 0
    for account_id in ExchangeAccount.objects.filter(active=True).values_list("pk", flat=True):
        for market_id in poll(account_id=account_id):
            updated(market_id=market_id)
            count += 1
    return count


@shared_task(acks_late=True, ignore_result=True)
def balances_sync(account_id: int) -> bool:
    from apps.trading.services.accounts import balances_sync as sync

    return sync(account_id=account_id)


@shared_task(acks_late=True, ignore_result=True, expires=30)
def holdings_reconcile(account_id: int) -> int:
    """After a fill, when the exchange answers again, at a worker's start: one account's holdings."""
    from apps.trading.services.holdings import holdings_reconcile as reconcile

    return reconcile(account_id=account_id).corrections


@shared_task(acks_late=True, ignore_result=True, expires=10)
def holdings_reconcile_all() -> int:
    """Beat, every 10 s: every active sim/live account's holdings against the exchange's balances."""
    from apps.trading.services.holdings import holdings_reconcile as reconcile

    accounts = ExchangeAccount.objects.filter(active=True).exclude(mode=ExchangeAccount.Mode.PAPER)
    for account_id in accounts.values_list("pk", flat=True):
        try:
            reconcile(account_id=account_id)
        except Exception:
            log.exception("holdings reconciliation failed", account=account_id)
    return accounts.count()


@shared_task(acks_late=True, ignore_result=True)
def reconcile_all() -> int:
    """Beat: for every active account, balances from the exchange, then (sim/live) its orders
    reconciled with the exchange, then a snapshot of the corrected book."""
    from apps.trading.services.accounts import balances_sync as sync
    from apps.trading.services.accounts import portfolio_snapshot_take
    from apps.trading.services.reconcile import orders_reconcile

    accounts = list(ExchangeAccount.objects.filter(active=True).values_list("pk", "mode"))
    for account_id, mode in accounts:
        try:
            sync(account_id=account_id)
            if mode != ExchangeAccount.Mode.PAPER:  # the paper venue is the desk's own book
                orders_reconcile(account_id=account_id)
        except Exception:
            log.exception("reconciliation failed", account=account_id)
        portfolio_snapshot_take(account_id=account_id)  # the daily-loss and drawdown marks need it
    return len(accounts)
