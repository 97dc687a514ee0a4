"""Fixtures of the alert tests: the real receivers, one channel of every kind pointed at them,
short retry delays, and the pipeline run the way beat runs it (tick after tick)."""

import time

import pytest

from apps.alerts.models import Channel
from apps.alerts.services import alerts_tick
from tests.alerts.receivers import DISCORD_PATH, SLACK_PATH, TELEGRAM_TOKEN, WEBHOOK_PATH, receivers_running


@pytest.fixture(autouse=True)
def quick_alerts(settings):
    settings.ALERTS_RETRY_SECONDS = 0.2
    settings.ALERTS_GAP_WAIT_SECONDS = 0.5
    settings.ALERTS_TIMEOUT_SECONDS = 3
    settings.ALERTS_SENDING_STALE_SECONDS = 2


@pytest.fixture
def receivers():
    with receivers_running() as running:
        yield running


def channel_make(receivers, kind: str, **values) -> Channel:
    base = receivers.http_url
    defaults = {
        Channel.Kind.TELEGRAM: {"url": base, "secret": TELEGRAM_TOKEN, "address": "-10042"},
        Channel.Kind.DISCORD: {"url": base + DISCORD_PATH},
        Channel.Kind.SLACK: {"url": base + SLACK_PATH},
        Channel.Kind.WEBHOOK: {"url": base + WEBHOOK_PATH, "secret": "hmac-key"},
        Channel.Kind.EMAIL: {
            "smtp_host": "127.0.0.1",
            "smtp_port": receivers.smtp_port,
            "smtp_tls": False,
            "email_from": "desk@example.com",
            "address": "ops@example.com",
        },
    }[kind]
    return Channel.objects.create(name=f"desk {kind}", kind=kind, **{**defaults, **values})


@pytest.fixture
def every_channel(receivers) -> dict[str, Channel]:
    return {kind: channel_make(receivers, kind) for kind in Channel.Kind.values}


def pipeline_until(condition, *, timeout: float = 20, message: str = "the alert pipeline") -> None:
    """Tick as beat does (bounded: a test never hangs) until the condition holds, then once more
    for whatever the last tick would still have sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alerts_tick(budget_seconds=5)
        if condition():
            alerts_tick(budget_seconds=5)
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
