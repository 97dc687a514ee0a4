"""/health/deep: every part the desk depends on, each timed, for staff or the metrics token."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.common.heartbeats import heartbeat_record
from apps.common.models import Heartbeat
from apps.common.ops_hooks import reconciliation_age_reader_set
from tests.markets.factories import market_make

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
TOKEN = "deep-health-token"


@pytest.fixture
def living_desk(sim):
    """An exchange that answers, a worker and beat that just beat, every account reconciled."""
    market_make(api_url=sim.url)
    heartbeat_record(name="worker@desk-1")
    heartbeat_record(name="beat")


@pytest.fixture
def deep(client, settings):
    settings.METRICS_TOKEN = TOKEN
    return lambda: client.get("/health/deep", headers={"Authorization": f"Bearer {TOKEN}"})


def test_a_living_desk_answers_200_with_every_check_ok_and_timed(living_desk, deep):
    response = deep()

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["service"] == "tradedesk"
    assert set(body["checks"]) == {
        "database_read",
        "database_write",
        "broker",
        "channel_layer",
        "exchange_time",
        "worker",
        "beat",
        "reconciliation",
    }
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())
    assert "ms" in body["checks"]["exchange_time"]["detail"]  # the offset from our clock
    assert not Heartbeat.objects.filter(name="health-deep").exists()  # the write check leaves no trace


def test_a_worker_silent_for_a_minute_makes_it_503_and_named(living_desk, deep):
    Heartbeat.objects.filter(name__startswith="worker@").update(beat_at=timezone.now() - timedelta(seconds=90))

    response = deep()

    checks = response.json()["checks"]
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    assert not checks["worker"]["ok"] and checks["worker"]["detail"].startswith("last worker heartbeat 9")
    assert checks["beat"]["ok"] and checks["database_write"]["ok"]


def test_a_desk_whose_beat_never_ran_says_so(sim, deep):
    market_make(api_url=sim.url)
    heartbeat_record(name="worker@desk-1")

    checks = deep().json()["checks"]

    assert not checks["beat"]["ok"] and "no beat heartbeat yet" in checks["beat"]["detail"]


def test_an_account_not_reconciled_for_ten_minutes_fails_the_reconciliation_check(living_desk, deep):
    reconciliation_age_reader_set(lambda: {"sim": 600.0, "live": 12.0})
    try:
        response = deep()
    finally:
        from apps.trading.services.reconcile import reconciliation_ages_read

        reconciliation_age_reader_set(reconciliation_ages_read)

    check = response.json()["checks"]["reconciliation"]
    assert response.status_code == 503 and not check["ok"] and check["detail"] == "sim: 600 s ago"


def test_an_exchange_that_does_not_answer_fails_the_exchange_check(deep):
    market_make(api_url="http://127.0.0.1:9")

    check = deep().json()["checks"]["exchange_time"]

    assert not check["ok"]


def test_without_credentials_it_is_401_and_for_a_non_staff_user_403(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/health/deep").status_code == 401
    assert client.get("/health/deep", headers={"Authorization": "Bearer wrong"}).status_code == 401

    client.force_login(User.objects.create_user("reader", password="pw-reader-1"))
    assert client.get("/health/deep").status_code == 403


def test_a_staff_user_may_look_without_the_token(living_desk, client):
    client.force_login(User.objects.create_user("ops", password="pw-ops-1", is_staff=True))

    assert client.get("/health/deep").status_code == 200
