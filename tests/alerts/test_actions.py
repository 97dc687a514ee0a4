"""A trader acknowledges, resolves or snoozes an alert of their accounts (audited, refusals too); a
viewer cannot, nor anyone outside the account. A critical alert nobody acknowledged is sent again
every 15 minutes, once per period, until someone acknowledges it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.alerts.actions import alert_acknowledge, alert_resolve, alert_snooze
from apps.alerts.models import Alert, Delivery
from apps.alerts.services import alerts_tick
from apps.common.audit import Via
from apps.common.errors import Conflict, Invalid, NotAllowed, NotFound
from apps.common.models import AuditEntry
from apps.risk.services import kill_switch_set
from tests.access import desk_user
from tests.alerts.conftest import channel_make, pipeline_until
from tests.alerts.receivers import WEBHOOK_PATH
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


def halted_alert(receivers, account) -> Alert:
    kill_switch_set(actor=None, account=account, state="halted", reason="spread too wide")
    pipeline_until(lambda: receivers.delivered(WEBHOOK_PATH))
    return Alert.objects.get()


def test_a_trader_acknowledges_an_alert_of_their_account_and_it_is_audited(receivers):
    channel_make(receivers, "webhook")
    account = account_make()
    alert = halted_alert(receivers, account)
    trader = desk_user("tess", role="trader", accounts=[account])

    done = alert_acknowledge(actor=trader, alert_id=alert.pk, via=Via.PAGE, reason="on it")

    assert (done.status, done.acknowledged_by, done.acknowledged_at is not None) == ("acknowledged", trader, True)
    entry = AuditEntry.objects.get(action="alert.acknowledge")
    assert (entry.who, entry.via, entry.outcome, entry.reason) == (trader, "page", "done", "on it")
    assert entry.before["status"] == "triggered" and entry.after["status"] == "acknowledged"
    with pytest.raises(Conflict, match="already acknowledged by tess"):
        alert_acknowledge(actor=trader, alert_id=alert.pk, via=Via.PAGE)


def test_a_viewer_cannot_acknowledge_and_an_outsider_does_not_find_the_alert(receivers):
    channel_make(receivers, "webhook")
    account = account_make()
    alert = halted_alert(receivers, account)
    viewer = desk_user("vic", role="viewer", accounts=[account])
    outsider = desk_user("otto", role="trader", accounts=[account_make(name="other")])

    with pytest.raises(NotAllowed, match="needs the trader role"):
        alert_acknowledge(actor=viewer, alert_id=alert.pk, via=Via.PAGE)
    with pytest.raises(NotFound, match=f"no alert #{alert.pk} on your accounts"):
        alert_resolve(actor=outsider, alert_id=alert.pk, via=Via.API)

    assert Alert.objects.get().status == "triggered"
    refused = AuditEntry.objects.filter(outcome="refused").values_list("who__username", "action")
    assert sorted(refused) == [("otto", "alert.resolve"), ("vic", "alert.acknowledge")]


def test_resolving_marks_it_seen_too_and_a_snooze_needs_whole_minutes(receivers):
    channel_make(receivers, "webhook")
    account = account_make()
    alert = halted_alert(receivers, account)
    trader = desk_user("tess", role="trader", accounts=[account])

    with pytest.raises(Invalid) as refused:
        alert_snooze(actor=trader, alert_id=alert.pk, minutes="soon", via=Via.API)
    assert "whole minutes from 1 to 10080" in refused.value.fields["minutes"][0]
    done = alert_resolve(actor=trader, alert_id=alert.pk, via=Via.ADMIN)

    assert (done.status, done.resolved_by, done.acknowledged_by) == ("resolved", trader, trader)
    with pytest.raises(Conflict, match="is resolved"):
        alert_snooze(actor=trader, alert_id=alert.pk, minutes=30, via=Via.API)


def test_a_critical_alert_nobody_acknowledges_is_sent_again_every_15_minutes_once_per_period(receivers):
    channel_make(receivers, "webhook")
    account = account_make()
    trader = desk_user("tess", role="trader", accounts=[account])
    with time_machine.travel(timezone.now(), tick=True) as clock:
        alert = halted_alert(receivers, account)

        clock.shift(timedelta(minutes=14))
        alerts_tick(budget_seconds=5)
        assert len(receivers.delivered(WEBHOOK_PATH)) == 1  # not yet

        clock.shift(timedelta(minutes=1, seconds=1))
        pipeline_until(lambda: len(receivers.delivered(WEBHOOK_PATH)) == 2)
        alerts_tick(budget_seconds=5)
        alerts_tick(budget_seconds=5)
        assert len(receivers.delivered(WEBHOOK_PATH)) == 2  # once per period

        reminder = receivers.delivered(WEBHOOK_PATH)[1].body
        assert reminder["reminder"] == 1 and reminder["key"] == alert.dedup_key
        assert Delivery.objects.filter(reminder=1, outcome="sent").count() == 1

        clock.shift(timedelta(minutes=15, seconds=1))
        pipeline_until(lambda: len(receivers.delivered(WEBHOOK_PATH)) == 3)
        alert_acknowledge(actor=trader, alert_id=alert.pk, via=Via.PAGE)

        clock.shift(timedelta(minutes=31))
        alerts_tick(budget_seconds=5)
        alerts_tick(budget_seconds=5)
    assert len(receivers.delivered(WEBHOOK_PATH)) == 3  # acknowledged: no more reminders
    assert Alert.objects.get().reminders == 2


def test_a_snoozed_critical_alert_comes_back_when_its_snooze_ends(receivers):
    channel_make(receivers, "webhook")
    account = account_make()
    trader = desk_user("tess", role="trader", accounts=[account])
    with time_machine.travel(timezone.now(), tick=True) as clock:
        alert = halted_alert(receivers, account)
        alert_snooze(actor=trader, alert_id=alert.pk, minutes=60, via=Via.PAGE)

        clock.shift(timedelta(minutes=59))
        alerts_tick(budget_seconds=5)
        assert Alert.objects.get().status == "snoozed" and len(receivers.delivered(WEBHOOK_PATH)) == 1

        clock.shift(timedelta(minutes=2))
        pipeline_until(lambda: len(receivers.delivered(WEBHOOK_PATH)) == 2)
    assert Alert.objects.get().status == "triggered"
