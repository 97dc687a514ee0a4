"""Is the account's exchange answering? A temporary failure (timeout, 5xx, connection reset,
rate limit) marks it down for VENUE_DOWN_SECONDS; any answer marks it up again. While it is down
the risk engine refuses entries with the reason, and trading resumes by itself (no crash loop:
nothing raises, the mark simply expires or is cleared by the next answer). Kept in the cache
(Redis in production: shared by every worker).

The outage record (first and last failure) outlives the mark: an outage longer than
TRADING_GATE_OUTAGE_S keeps the start gate closed (apps/trading/holdings_gate.py) until a holdings
reconciliation has run since; a shorter one is forgotten at the next answer. The first answer after
a down mark queues a holdings reconciliation ("when the exchange answers again")."""

import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.exchanges.errors import ExchangeCallError


def _key(account_id: int) -> str:
    return f"trading:venue-down:{account_id}"


def _outage_key(account_id: int) -> str:
    return f"trading:venue-outage:{account_id}"


def outage_gate_seconds() -> float:
    return getattr(settings, "TRADING_GATE_OUTAGE_S", 60)


def venue_failure_record(*, account_id: int, error: ExchangeCallError) -> None:
    if not error.retryable:
        return  # a refusal is an answer: the exchange is up
    seconds = getattr(settings, "TRADING_VENUE_DOWN_SECONDS", 15)
    cache.set(_key(account_id), f"{error.error_class} at {timezone.now():%H:%M:%S}: {str(error)[:160]}", timeout=seconds)
    now = time.time()
    outage = cache.get(_outage_key(account_id)) or {"since": now}
    cache.set(_outage_key(account_id), {**outage, "last": now}, timeout=None)


def venue_success_record(*, account_id: int) -> None:
    found = cache.get_many([_key(account_id), _outage_key(account_id)])  # one round trip on the order path
    if not found:
        return
    outage = found.get(_outage_key(account_id))
    if outage and outage["last"] - outage["since"] <= outage_gate_seconds():
        cache.delete(_outage_key(account_id))  # short: forgotten; a long one waits for a reconciliation
    if _key(account_id) in found:
        cache.delete(_key(account_id))
        from apps.trading.dispatch import task_queue

        task_queue("holdings_reconcile", account_id)  # it answers again: see what changed meanwhile


def venue_down_reason(*, account_id: int) -> str:
    return cache.get(_key(account_id)) or ""


def circuit_breakers_read() -> dict[str, str]:
    """Each sim/live account's circuit breaker by account name (apps.exchanges.breaker: the shared
    state every worker agrees on), for /metrics (apps.common.ops_hooks.BREAKER_STATES). A paper
    account calls no exchange: it has none."""
    from apps.exchanges.breaker import account_service, breaker_state
    from apps.exchanges.models import ExchangeAccount

    accounts = ExchangeAccount.objects.exclude(mode=ExchangeAccount.Mode.PAPER).values_list("pk", "name")
    return {name: breaker_state(account_service(pk)) for pk, name in accounts}


def venue_outage_long(*, account_id: int) -> float:
    """Seconds of an outage long enough to close the start gate and not reconciled since (0: none)."""
    outage = cache.get(_outage_key(account_id))
    if not outage:
        return 0.0
    length = outage["last"] - outage["since"]
    return length if length > outage_gate_seconds() else 0.0


def venue_outage_reconciled(*, account_id: int, started: float) -> None:
    """A full holdings reconciliation that started at `started` (epoch s) succeeded: an outage
    that ended before it is settled."""
    outage = cache.get(_outage_key(account_id))
    if outage and outage["last"] <= started:
        cache.delete(_outage_key(account_id))
