"""Alerts reach real receivers on 127.0.0.1: Telegram's sendMessage, Discord and Slack webhooks, a
generic webhook and an SMTP server; a 429 is retried after its retry_after, a receiver down for
two attempts gets the third, and a reading never repeats a message."""

import hashlib
import hmac
import json

import pytest

from apps.alerts.models import Alert, Delivery
from apps.risk.services import kill_switch_set
from tests.alerts.conftest import channel_make, pipeline_until
from tests.alerts.receivers import DISCORD_PATH, SLACK_PATH, TELEGRAM_PATH, WEBHOOK_PATH
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db

REASON = "spread > 5% on <BTC/USDT> & the book is thin"


def test_halting_the_kill_switch_tells_every_channel_once_with_the_account_and_the_reason(receivers, every_channel):
    account = account_make(name="main & co")

    kill_switch_set(actor=None, account=account, state="halted", reason=REASON)
    pipeline_until(lambda: receivers.delivered_count() >= 5)

    (telegram,) = receivers.delivered(TELEGRAM_PATH)
    assert telegram.body["parse_mode"] == "HTML" and telegram.body["chat_id"] == "-10042"
    assert "spread &gt; 5% on &lt;BTC/USDT&gt; &amp; the book is thin" in telegram.body["text"]
    assert "main &amp; co" in telegram.body["text"] and "HALTED" in telegram.body["text"]
    (discord,) = receivers.delivered(DISCORD_PATH)
    (embed,) = discord.body["embeds"]
    assert "HALTED" in embed["description"] and "the book is thin" in embed["description"]
    assert {"name": "Account", "value": "main & co", "inline": True} in embed["fields"]
    assert discord.body["allowed_mentions"] == {"parse": []}
    (slack,) = receivers.delivered(SLACK_PATH)
    section = slack.body["blocks"][1]["text"]["text"]
    assert "spread &gt; 5% on &lt;BTC/USDT&gt; &amp; the book is thin" in section
    assert "main &amp; co" in slack.body["blocks"][2]["elements"][0]["text"]
    (webhook,) = receivers.delivered(WEBHOOK_PATH)
    assert (webhook.body["kind"], webhook.body["priority"], webhook.body["account"]) == ("kill_switch", "critical", "main & co")
    assert REASON in webhook.body["body"]
    (mail,) = receivers.mails
    assert mail.subject.startswith("[CRITICAL] Kill switch changed")
    assert mail.recipients == ["ops@example.com"]
    assert "spread &gt; 5% on &lt;BTC/USDT&gt; &amp; the book is thin" in mail.html and "main &amp; co" in mail.html
    assert Alert.objects.get().priority == 40
    assert set(Delivery.objects.values_list("outcome", flat=True)) == {"sent"}


def test_a_webhook_is_signed_with_its_key_and_carries_the_alert_key(receivers):
    channel = channel_make(receivers, "webhook")
    account = account_make()

    kill_switch_set(actor=None, account=account, state="halted", reason="test")
    pipeline_until(lambda: receivers.delivered(WEBHOOK_PATH))

    (request,) = receivers.delivered(WEBHOOK_PATH)
    raw = json.dumps(request.body, separators=(",", ":")).encode()
    assert (
        request.headers["X-Tradedesk-Signature"] == "sha256=" + hmac.new(channel.secret.encode(), raw, hashlib.sha256).hexdigest()
    )
    assert request.headers["Idempotency-Key"] == Alert.objects.get().dedup_key


def test_a_receiver_answering_429_is_tried_again_after_its_retry_after(receivers):
    channel_make(receivers, "discord")
    receivers.answer_next(DISCORD_PATH, ("429", 1.5))

    kill_switch_set(actor=None, account=account_make(), state="halted", reason="rate limited test")
    pipeline_until(lambda: receivers.delivered(DISCORD_PATH))

    refused, accepted = receivers.attempts(DISCORD_PATH)
    assert refused.answered == 429 and accepted.answered == 204
    assert accepted.at - refused.at >= 1.5  # waited as asked, not the 0.2 s retry delay
    assert Delivery.objects.get().attempt == 2


def test_telegrams_retry_after_parameter_is_honoured_too(receivers):
    channel_make(receivers, "telegram")
    receivers.answer_next(TELEGRAM_PATH, ("429", 1))

    kill_switch_set(actor=None, account=account_make(), state="halted", reason="x")
    pipeline_until(lambda: receivers.delivered(TELEGRAM_PATH))

    refused, accepted = receivers.attempts(TELEGRAM_PATH)
    assert accepted.at - refused.at >= 1


def test_a_receiver_down_for_two_attempts_gets_the_third(receivers):
    channel_make(receivers, "webhook")
    receivers.answer_next(WEBHOOK_PATH, ("drop",), ("503",))

    kill_switch_set(actor=None, account=account_make(), state="halted", reason="down twice")
    pipeline_until(lambda: receivers.delivered(WEBHOOK_PATH))

    assert [attempt.answered for attempt in receivers.attempts(WEBHOOK_PATH)] == [0, 503, 200]
    delivery = Delivery.objects.get()
    assert (delivery.outcome, delivery.attempt) == ("sent", 3)


def test_a_receiver_down_for_every_attempt_is_recorded_as_failed_with_its_answer(receivers):
    channel_make(receivers, "slack")
    channel_make(receivers, "webhook")
    receivers.answer_next(SLACK_PATH, ("503",), ("503",), ("503",))

    kill_switch_set(actor=None, account=account_make(), state="halted", reason="never")
    pipeline_until(lambda: Delivery.objects.filter(outcome__in=["sent", "failed"]).count() == 2)

    assert len(receivers.attempts(SLACK_PATH)) == 3
    slack = Delivery.objects.get(channel__kind="slack")
    assert (slack.outcome, slack.attempt) == ("failed", 3) and "503" in slack.response
    assert Delivery.objects.get(channel__kind="webhook").outcome == "sent"  # the other channel is not held back


def test_reading_the_same_events_again_sends_nothing_twice(receivers, every_channel):
    from apps.common.models import EventCursor

    kill_switch_set(actor=None, account=account_make(), state="halted", reason="once")
    pipeline_until(lambda: receivers.delivered_count() >= 5)
    EventCursor.objects.filter(name="alerts").update(last_event_id=0)  # as if the cursor save was lost

    pipeline_until(lambda: True)

    assert receivers.delivered_count() == 5 and Alert.objects.count() == 1
