"""Which alerts a person sees: those of their accounts and the desk-wide ones."""

from django.db.models import Prefetch, QuerySet

from apps.alerts.models import Alert, Delivery
from apps.alerts.summary import KIND as SUMMARY_KIND
from apps.exchanges.selectors import account_scoped


def alerts_visible(*, user) -> QuerySet[Alert]:
    return account_scoped(
        Alert.objects.select_related("account", "acknowledged_by", "resolved_by").prefetch_related(
            Prefetch("deliveries", queryset=Delivery.objects.select_related("channel").order_by("id"))
        ),
        user=user,
        shared_rows=True,
    )


def alerts_unacknowledged(*, user) -> QuerySet[Alert]:
    """Waiting for a person: triggered, not acknowledged, resolved or snoozed (the daily summary
    is information, not waiting for anyone)."""
    waiting = Alert.objects.filter(status=Alert.Status.TRIGGERED).exclude(kind=SUMMARY_KIND)
    return account_scoped(waiting, user=user, shared_rows=True)
