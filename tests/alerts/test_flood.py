"""A flood of the same alert reaches each channel once per 5 minutes, then as one digest."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from apps.alerts.models import Alert, Delivery
from apps.common.events import ORDER_FIELDS, event_build, events_save
from tests.alerts.conftest import channel_make, pipeline_until
from tests.alerts.receivers import SLACK_PATH, WEBHOOK_PATH
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


def rejections_record(account, count: int, *, first_order: int = 1) -> None:
    """`count` order.rejected events as the order service records them, in one transaction."""
    events = [
        event_build(
            "order.rejected",
            {
                **dict.fromkeys(ORDER_FIELDS, ""),
                "order": number,
                "client_order_id": f"td-{number}",
                "market": "BTC-USDT",
                "side": "buy",
                "amount": "0.1",
                "status": "rejected",
                "reason": "insufficient balance",
            },
            account=account.pk,
        )
        for number in range(first_order, first_order + count)
    ]
    with transaction.atomic():
        events_save(events)


def test_a_thousand_rejections_send_one_message_per_channel_then_one_digest_of_the_rest(receivers):
    channel_make(receivers, "slack")
    channel_make(receivers, "webhook")
    account = account_make(name="flooded")

    with time_machine.travel(timezone.now(), tick=True) as clock:
        rejections_record(account, 1000)
        pipeline_until(lambda: Alert.objects.count() == 1000 and receivers.delivered_count() >= 2, timeout=60)
        clock.shift(timedelta(minutes=4))
        pipeline_until(lambda: True)
        assert len(receivers.delivered(SLACK_PATH)) == 1 and len(receivers.delivered(WEBHOOK_PATH)) == 1

        clock.shift(timedelta(minutes=1, seconds=1))
        pipeline_until(lambda: receivers.delivered_count() >= 4)

    for path in (SLACK_PATH, WEBHOOK_PATH):
        assert len(receivers.delivered(path)) == 2
    digest = receivers.delivered(WEBHOOK_PATH)[1].body
    assert digest["digest_count"] == 998  # the first was sent, the last carries the other 998
    assert "… and 998 more" in receivers.delivered(SLACK_PATH)[1].body["text"]
    assert Delivery.objects.filter(outcome="digested").count() == 2 * 998


def test_after_the_digest_the_next_rejection_waits_for_the_next_window(receivers):
    channel_make(receivers, "webhook")
    account = account_make()

    with time_machine.travel(timezone.now(), tick=True) as clock:
        rejections_record(account, 3)
        pipeline_until(lambda: receivers.delivered_count() >= 1)
        clock.shift(timedelta(minutes=5, seconds=1))
        pipeline_until(lambda: receivers.delivered_count() >= 2)
        rejections_record(account, 1, first_order=10)
        pipeline_until(lambda: Alert.objects.count() == 4)

        assert receivers.delivered_count() == 2  # the digest opened a new window
        assert Delivery.objects.filter(outcome="throttled").count() == 1


def test_another_account_or_a_critical_alert_is_not_held_back_by_a_flood(receivers):
    from apps.risk.services import kill_switch_set

    channel_make(receivers, "webhook")
    flooded, other = account_make(name="flooded"), account_make(name="other")
    rejections_record(flooded, 50)
    rejections_record(other, 1, first_order=100)
    kill_switch_set(actor=None, account=flooded, state="halted", reason="too many rejections")

    pipeline_until(lambda: receivers.delivered_count() >= 3)

    sent = [(request.body["kind"], request.body["account"]) for request in receivers.delivered(WEBHOOK_PATH)]
    assert sorted(sent) == [("kill_switch", "flooded"), ("order.rejected", "flooded"), ("order.rejected", "other")]
