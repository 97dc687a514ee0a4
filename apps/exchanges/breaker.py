"""A circuit breaker per exchange account (and per exchange for the collectors' public market
data), shared by every worker through the cache (Redis in production).

closed     calls go through; each temporary failure (timeout, 5xx, rate limit) in a row counts;
open       after TRADING_BREAKER_FAILURES of them: calls are refused at once (CircuitOpenError,
           itself temporary: the callers' outage handling applies) for TRADING_BREAKER_TIMEOUT_S;
half_open  then one call (the probe, whoever takes it first among the workers) goes through:
           an answer closes the breaker, a failure opens it for another timeout.

Any answer, a refusal included (insufficient funds, unknown order), means the exchange is up and
resets the count. A failure behind call_with_retry's retries counts once.

`breaker_state(service)` / `breaker_states()` give the state for the
`trading_circuit_breaker_state{service}` gauge (0 closed, 1 half-open, 2 open: BREAKER_GAUGE)."""

import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from apps.exchanges.errors import CircuitOpenError, ExchangeCallError

T = TypeVar("T")
CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
BREAKER_GAUGE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


def account_service(account_id: int) -> str:
    return f"account:{account_id}"


def market_data_service(exchange_code: str) -> str:
    return f"marketdata:{exchange_code}"


def _threshold() -> int:
    return getattr(settings, "TRADING_BREAKER_FAILURES", 5)


def _timeout() -> float:
    return getattr(settings, "TRADING_BREAKER_TIMEOUT_S", 60)


def _keys(service: str) -> tuple[str, str, str]:
    return f"breaker:{service}:failures", f"breaker:{service}:opened", f"breaker:{service}:probe"


def breaker_state(service: str) -> str:
    opened = cache.get(_keys(service)[1])
    if opened is None:
        return CLOSED
    return HALF_OPEN if time.time() - opened >= _timeout() else OPEN


def breaker_states() -> dict[str, str]:
    """Every active account's breaker, and each exchange's market-data one."""
    from apps.exchanges.models import ExchangeAccount

    services = [account_service(pk) for pk in ExchangeAccount.objects.filter(active=True).values_list("pk", flat=True)]
    services += [
        market_data_service(code)
        for code in ExchangeAccount.objects.filter(active=True).values_list("exchange__code", flat=True).distinct()
    ]
    return {service: breaker_state(service) for service in services}


def breaker_call(service: str, call: Callable[[], T]) -> T:
    """Run an exchange call through the service's breaker."""
    failures_key, opened_key, probe_key = _keys(service)
    found = cache.get_many([failures_key, opened_key])  # one round trip on the order path
    opened = found.get(opened_key)
    if opened is not None:
        waited = time.time() - opened
        if waited < _timeout():
            raise CircuitOpenError(
                f"circuit breaker open for {service} ({_threshold()} failures in a row): not sent; "
                f"next probe in {_timeout() - waited:.0f} s"
            )
        if not cache.add(probe_key, 1, timeout=max(_timeout(), 30)):
            raise CircuitOpenError(f"circuit breaker half-open for {service}: another worker's probe is in flight; not sent")
    try:
        result = call()
    except ExchangeCallError as error:
        if error.retryable and not isinstance(error, CircuitOpenError):
            _failure(service, probing=opened is not None)
        elif not error.retryable and found:
            cache.delete_many([failures_key, opened_key, probe_key])  # a refusal is an answer
        raise
    if found:
        cache.delete_many([failures_key, opened_key, probe_key])
    return result


def _failure(service: str, *, probing: bool) -> None:
    failures_key, opened_key, probe_key = _keys(service)
    cache.add(failures_key, 0, timeout=None)
    failures = cache.incr(failures_key)
    if probing or failures >= _threshold():
        cache.set(opened_key, time.time(), timeout=None)
        cache.delete(probe_key)


def breaker_reset(service: str) -> None:
    cache.delete_many(list(_keys(service)))
