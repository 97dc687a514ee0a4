"""A strategy's health as trading sees it: failures counted, and the strategy paused after too
many in a row (the limit is the account's risk limit; the pause is recorded as a risk action)."""

from django.db import transaction
from django.db.models import F

from apps.common.logging import get_logger
from apps.risk.selectors import limits_value
from apps.risk.services import risk_action_record
from apps.strategies.models import Strategy
from apps.strategies.services.lifecycle import strategy_status_set

log = get_logger(__name__)
DEFAULT_MAX_CONSECUTIVE_FAILURES = 10


def max_consecutive_failures(strategy: Strategy) -> int:
    return limits_value(strategy=strategy, name="max_consecutive_failures") or DEFAULT_MAX_CONSECUTIVE_FAILURES


def strategy_failure_record(*, strategy_id: int, reason: str) -> bool:
    """Count a failure; pause the strategy at the limit. Returns True when it was paused now."""
    with transaction.atomic():
        Strategy.objects.filter(pk=strategy_id).update(
            consecutive_failures=F("consecutive_failures") + 1, failure_count=F("failure_count") + 1, last_error=reason[:2000]
        )
        strategy = Strategy.objects.select_for_update().get(pk=strategy_id)
        limit = max_consecutive_failures(strategy)
        if strategy.status != Strategy.Status.RUNNING or strategy.consecutive_failures < limit:
            return False
        why = f"paused after {strategy.consecutive_failures} consecutive failures; last: {reason}"
        strategy_status_set(actor=None, strategy=strategy, status=Strategy.Status.PAUSED, reason=why)
        risk_action_record(account_id=strategy.account_id, strategy_id=strategy.pk, rule="consecutive_failures", reason=why)
    log.warning("strategy paused", strategy=strategy_id, reason=why)
    return True


def strategy_success_record(*, strategy_id: int) -> None:
    Strategy.objects.filter(pk=strategy_id, consecutive_failures__gt=0).update(consecutive_failures=0)
