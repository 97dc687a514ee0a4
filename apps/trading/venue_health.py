"""Is the account's exchange answering? A temporary failure (timeout, 5xx, connection reset,
rate limit) marks it down for VENUE_DOWN_SECONDS; any answer marks it up again. While it is down
the risk engine refuses entries with the reason, and trading resumes by itself (no crash loop:
nothing raises, the mark simply expires or is cleared by the next answer). Kept in the cache
(Redis in production: shared by every worker)."""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.exchanges.errors import ExchangeCallError


def _key(account_id: int) -> str:
    return f"trading:venue-down:{account_id}"


def venue_failure_record(*, account_id: int, error: ExchangeCallError) -> None:
    if not error.retryable:
        return  # a refusal is an answer: the exchange is up
    seconds = getattr(settings, "TRADING_VENUE_DOWN_SECONDS", 15)
    cache.set(_key(account_id), f"{error.error_class} at {timezone.now():%H:%M:%S}: {str(error)[:160]}", timeout=seconds)


def venue_success_record(*, account_id: int) -> None:
    cache.delete(_key(account_id))


def venue_down_reason(*, account_id: int) -> str:
    return cache.get(_key(account_id)) or ""


def circuit_breakers_read() -> dict[str, str]:
    """Each exchange account's circuit breaker (apps.common.ops_hooks.BREAKER_STATES), for
    /metrics. Until the shared breaker exists every account reads as closed: the breaker's own
    reader replaces this one in apps/trading/apps.py."""
    from apps.exchanges.models import ExchangeAccount

    names = ExchangeAccount.objects.exclude(mode=ExchangeAccount.Mode.PAPER).values_list("name", flat=True)
    return dict.fromkeys(names, "closed")
