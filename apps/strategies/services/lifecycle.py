"""Start, pause, stop."""

from django.db import transaction

from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.strategies.models import Strategy

log = get_logger(__name__)


def _topic(strategy: Strategy) -> str:
    return f"strategies.{strategy.pk}"


def strategy_status_set(*, strategy: Strategy, status: str, reason: str = "") -> Strategy:
    with transaction.atomic():
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.status == status:
            return locked
        previous = locked.status
        locked.status, locked.status_reason = status, reason[:300]
        if status == Strategy.Status.RUNNING:
            locked.consecutive_failures = 0
        locked.save(update_fields=["status", "status_reason", "consecutive_failures", "updated_at"])
        event_record(topic=_topic(locked), kind=f"strategy.{'started' if status == 'running' else status}",
                     payload={"strategy": locked.pk, "from": previous, "to": status, "reason": reason})
    return locked
