"""Goals through the API: a trader sets and changes goals of their accounts (validated once,
every bad field at once, audited), reads where they stand and their history, takes snapshots
and clears a drawdown pause; another account's goals and events are a 404, a viewer writes nothing."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from apps.common.models import AuditEntry
from apps.goals.models import DrawdownEvent, Goal, GoalSnapshot

from .conftest import client_with, token_for
from .test_bad_input import error_of

pytestmark = pytest.mark.django_db


def a_goal(account, **fields) -> Goal:
    return Goal.objects.create(account=account, kind="monthly_return", target=D("0.10"), active=True, **fields)


def test_a_trader_sets_a_goal_and_the_change_is_audited(desk, trader, trader_user):
    answer = trader.post(
        "/api/v1/goals/", {"account": desk.ours.account.pk, "kind": "monthly_income", "target": "4000", "active": True}
    )

    assert answer.status_code == 201, answer.content
    goal = Goal.objects.get(pk=answer.json()["id"])
    assert (goal.kind, goal.target, goal.active, goal.catch_up_enabled) == ("monthly_income", D(4000), True, False)
    entry = AuditEntry.objects.get(action="goal.create")
    assert (entry.who, entry.via, entry.object_id) == (trader_user, "api", str(goal.pk))

    changed = trader.patch(f"/api/v1/goals/{goal.pk}/", {"catch_up_enabled": True}, format="json")

    assert changed.status_code == 200 and changed.json()["catch_up_enabled"] is True
    assert AuditEntry.objects.get(action="goal.change").before["catch_up_enabled"] is False


def test_every_bad_field_of_a_goal_is_named_at_once(desk, trader):
    error = error_of(
        trader.post(
            "/api/v1/goals/",
            {"account": desk.ours.account.pk, "kind": "monthly_return", "target": "-1", "deadline": "2030-01-01T00:00:00Z"},
        ),
        422,
    )

    assert set(error["fields"]) == {"target", "deadline"}


def test_another_accounts_goal_is_not_found_and_a_viewer_writes_nothing(desk, trader, viewer):
    theirs = a_goal(desk.theirs.account)

    assert trader.get(f"/api/v1/goals/{theirs.pk}/").status_code == 404
    assert trader.delete(f"/api/v1/goals/{theirs.pk}/").status_code == 404
    error_of(trader.post("/api/v1/goals/", {"account": desk.theirs.account.pk, "kind": "monthly_return", "target": "0.1"}), 404)
    ours = a_goal(desk.ours.account)
    error_of(viewer.patch(f"/api/v1/goals/{ours.pk}/", {"active": False}, format="json"), 403)
    assert Goal.objects.get(pk=ours.pk).active


def test_where_each_active_goal_stands_and_its_history(desk, trader):
    goal = a_goal(desk.ours.account)
    a_goal(desk.theirs.account)
    GoalSnapshot.objects.create(
        goal=goal, day="2026-01-31", taken_at=datetime(2026, 1, 31, 23, 59, tzinfo=UTC), value=D(100), current=D("0.02"),
        progress=0.2, expected=0.99, pace_ratio=0.2, status="critical",
    )  # fmt: skip

    [status] = trader.get("/api/v1/goals/status/").json()
    history = trader.get(f"/api/v1/goals/{goal.pk}/history/").json()

    assert status["goal"]["id"] == goal.pk and status["status"] in {"achieved", "on_track", "at_risk", "behind", "critical"}
    assert status["days_left"] >= 1 and status["required_daily_return"] is not None
    assert [row["status"] for row in history] == ["critical"]


def test_a_snapshot_command_retried_with_its_key_snapshots_once(desk, trader):
    a_goal(desk.ours.account)

    first = trader.post("/api/v1/goals/snapshot/", {}, HTTP_IDEMPOTENCY_KEY="snap-1")
    again = trader.post("/api/v1/goals/snapshot/", {}, HTTP_IDEMPOTENCY_KEY="snap-1")

    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert first.json()["failed"] == 0 and first.json()["snapshots"] >= 1
    assert AuditEntry.objects.filter(action="goals.snapshot").count() == 1


def test_drawdown_events_are_read_per_account_and_a_trader_clears_a_pause(desk, trader):
    month = datetime.now(UTC).date().replace(day=1)
    fields = {"month": month, "level": "pause_new", "stance": "normal", "limit": 0.05, "actual": 0.06, "value": 94, "peak": 100}
    ours = DrawdownEvent.objects.create(account=desk.ours.account, reason="ours down 6 %", **fields)
    DrawdownEvent.objects.create(account=desk.theirs.account, reason="theirs down 6 %", **fields)

    listed = trader.get("/api/v1/drawdown-events/").json()["results"]
    cleared = trader.post("/api/v1/drawdown-events/clear/", {"account": desk.ours.account.pk, "reason": "checked"})
    refused = trader.post("/api/v1/drawdown-events/clear/", {"account": desk.theirs.account.pk, "reason": "mine now"})

    assert [row["id"] for row in listed] == [ours.pk]
    assert cleared.status_code == 200 and cleared.json() == {"cleared": 1}
    assert DrawdownEvent.objects.get(pk=ours.pk).cleared_at is not None
    error_of(refused, 404)
    assert trader.get("/api/v1/goal-adjustments/").status_code == 200
    assert trader.get("/api/v1/risk-limit-adjustments/").status_code == 200


def test_a_goal_for_all_accounts_needs_an_admin(desk, trader_user):
    trader = client_with(token_for(trader_user, "trade"))
    error_of(trader.post("/api/v1/goals/", {"account": None, "kind": "portfolio_value", "target": "1000000"}, format="json"), 403)
