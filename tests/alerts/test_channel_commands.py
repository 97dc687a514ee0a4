"""Channels from a script: `alerts_channel_add` (checked like the admin's form, every missing
setting at once), `alerts_test` (a test message to every channel, each outcome printed), the
admin's "send test" action; quiet hours hold alerts below critical until they end."""

from datetime import UTC, datetime, time
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from apps.alerts.models import Channel, Delivery
from apps.common.models import AuditEntry
from apps.risk.services import kill_switch_set
from tests.access import desk_user
from tests.alerts.conftest import channel_make, pipeline_until
from tests.alerts.receivers import WEBHOOK_PATH, free_port
from tests.alerts.test_flood import rejections_record
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_alerts_channel_add_then_alerts_test_reaches_the_receiver_and_prints_each_outcome(receivers):
    line = run("alerts_channel_add", "--kind", "webhook", "--url", receivers.http_url + WEBHOOK_PATH, "--min-priority", "low")
    assert "added: webhook (Webhook (JSON)) (alerts from low up)" in line
    channel_make(receivers, "slack", url=f"http://127.0.0.1:{free_port()}/down")

    printed = run("alerts_test")

    assert "webhook (Webhook (JSON)): sent — 200" in printed and "desk slack (Slack): retry — not reachable" in printed
    (message,) = receivers.delivered(WEBHOOK_PATH)
    assert message.body["title"] == "Test message from the desk"
    assert AuditEntry.objects.filter(action="alert_channel.test").count() == 2
    assert AuditEntry.objects.get(action="alert_channel.add").via == "command"


def test_a_channel_missing_its_settings_is_refused_naming_each():
    with pytest.raises(CommandError) as refused:
        run("alerts_channel_add", "--kind", "telegram", "--quiet", "22:00-07:00")
    assert "needs the bot token" in str(refused.value) and "needs the chat id" in str(refused.value)
    with pytest.raises(CommandError, match="needs the admin role"):
        desk_user("tess", role="trader")
        run("alerts_channel_add", "--kind", "webhook", "--url", "http://127.0.0.1:9/x", "--as", "tess")
    assert not Channel.objects.exists()


def test_the_admin_sends_a_test_message_from_the_channel_list(receivers):
    account = account_make()
    channel = channel_make(receivers, "webhook", account=account)
    client = Client()
    client.force_login(desk_user("ada", role="admin", accounts=[account]))

    page = client.post("/admin/alerts/channel/", {"action": "send_test", "_selected_action": [channel.pk]}, follow=True)

    assert "Desk webhook (Webhook (JSON)): sent — 200" in page.content.decode()
    assert len(receivers.delivered(WEBHOOK_PATH)) == 1


def test_quiet_hours_hold_a_rejection_until_they_end_but_never_a_kill_switch(receivers):
    channel_make(receivers, "webhook", quiet_from=time(22), quiet_until=time(7))
    account = account_make()
    with time_machine.travel(datetime(2026, 12, 1, 3, 0, tzinfo=UTC), tick=True) as clock:
        rejections_record(account, 1)
        kill_switch_set(actor=None, account=account, state="halted", reason="3 am")
        pipeline_until(lambda: len(receivers.delivered(WEBHOOK_PATH)) == 1)
        assert receivers.delivered(WEBHOOK_PATH)[0].body["kind"] == "kill_switch"
        held = Delivery.objects.get(alert__kind="order.rejected")
        assert (held.outcome, held.next_attempt_at) == ("pending", datetime(2026, 12, 1, 7, 0, tzinfo=UTC))

        clock.move_to(datetime(2026, 12, 1, 7, 0, 1, tzinfo=UTC))
        pipeline_until(lambda: "order.rejected" in kinds_received(receivers))
    assert kinds_received(receivers).count("order.rejected") == 1


def kinds_received(receivers) -> list[str]:
    return [request.body["kind"] for request in receivers.delivered(WEBHOOK_PATH)]
