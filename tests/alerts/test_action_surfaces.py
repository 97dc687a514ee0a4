"""The same three actions from the risk page, the admin and the API: buttons and an unacknowledged
count for a trader, none for a viewer; API commands with an Idempotency-Key, 404 for an alert
outside one's accounts, the API's error shape for a refusal."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.alerts.models import Alert, Priority
from apps.api.tokens import api_token_create
from apps.common.models import AuditEntry
from tests.access import desk_user
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


def alert_make(account, title="Kill switch changed", priority=Priority.CRITICAL) -> Alert:
    return Alert.objects.create(
        dedup_key=f"test:{title}:{account.pk}", kind="kill_switch", priority=priority, account=account, title=title
    )


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user, scope: str) -> APIClient:
    key = api_token_create(actor=None, user=user, name=f"{user.username} {scope}", scope=scope, via="command").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_the_risk_page_lists_alerts_with_buttons_and_the_navigation_counts_the_unacknowledged():
    account = account_make()
    alert = alert_make(account)
    alert_make(account_make(name="other"), title="Not yours")
    client = page_client(desk_user("tess", role="trader", accounts=[account]))

    page = client.get("/risk/").content.decode()
    assert f'id="alert-{alert.pk}"' in page and "Not yours" not in page
    assert f"/risk/alerts/{alert.pk}/acknowledge" in page and 'aria-label="1 unacknowledged alerts"' in page

    answer = client.post(f"/risk/alerts/{alert.pk}/acknowledge", {"reason": "looking"}, follow=True)
    assert f"Alert #{alert.pk} acknowledged" in answer.content.decode()
    assert 'aria-label="0 unacknowledged alerts"' in answer.content.decode()
    client.post(f"/risk/alerts/{alert.pk}/snooze", {"minutes": "60"})
    alert.refresh_from_db()
    assert alert.status == "snoozed" and alert.snoozed_until is not None
    assert AuditEntry.objects.filter(action__startswith="alert.", via="page", who__username="tess").count() == 2


def test_a_viewer_sees_alerts_without_buttons_and_a_forged_post_is_refused():
    account = account_make()
    alert = alert_make(account)
    client = page_client(desk_user("vic", role="viewer", accounts=[account]))

    page = client.get("/risk/").content.decode()
    assert f'id="alert-{alert.pk}"' in page and f"/risk/alerts/{alert.pk}/acknowledge" not in page

    assert client.post(f"/risk/alerts/{alert.pk}/resolve").status_code == 403
    alert.refresh_from_db()
    assert alert.status == "triggered"


def test_the_admin_acknowledges_the_selected_alerts_through_the_service():
    account = account_make()
    alert = alert_make(account)
    client = page_client(desk_user("tess", role="trader", accounts=[account]))

    client.post("/admin/alerts/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]})

    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by.username == "tess"
    assert AuditEntry.objects.get(action="alert.acknowledge").via == "admin"


def test_the_api_lists_alerts_with_deliveries_and_acknowledges_once_per_idempotency_key():
    account = account_make()
    alert = alert_make(account)
    hidden = alert_make(account_make(name="other"), title="Not yours")
    trader = api_client(desk_user("tom", role="trader", accounts=[account]), "trade")

    listed = trader.get("/api/v1/alerts/?status=triggered").json()
    assert [row["id"] for row in listed["results"]] == [alert.pk]
    assert listed["results"][0]["priority"] == "critical" and listed["results"][0]["deliveries"] == []

    first = trader.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"reason": "mine"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = trader.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"reason": "mine"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert first.json()["status"] == "acknowledged" and first.json()["acknowledged_by"] == "tom"
    assert AuditEntry.objects.filter(action="alert.acknowledge").count() == 1

    assert trader.post(f"/api/v1/alerts/{hidden.pk}/resolve/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code == 404
    twice = trader.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k3")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "conflict"
    assert "already acknowledged by tom" in twice.json()["error"]["message"]
    bad = trader.post(f"/api/v1/alerts/{alert.pk}/snooze/", {"minutes": 0}, format="json", HTTP_IDEMPOTENCY_KEY="k4")
    assert bad.status_code == 400 and "minutes" in bad.json()["error"]["fields"]


def test_a_read_token_or_a_viewer_cannot_acknowledge_through_the_api():
    account = account_make()
    alert = alert_make(account)
    reader = api_client(desk_user("tom", role="trader", accounts=[account]), "read")
    viewer = api_client(desk_user("vic", role="viewer", accounts=[account]), "trade")

    assert reader.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {}, format="json", HTTP_IDEMPOTENCY_KEY="a").status_code == 403
    assert viewer.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {}, format="json", HTTP_IDEMPOTENCY_KEY="b").status_code == 403
    alert.refresh_from_db()
    assert alert.status == "triggered"
