"""The goals page: members see their accounts' goals (and those of all accounts), never
another account's; a viewer sees no switch; a trader switches catch-up and resumes entries
after a drawdown pause, each audited."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.common.models import AuditEntry
from apps.goals.models import DrawdownEvent, Goal
from tests.access import desk_make, desk_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    return desk_make()


def goal_on(account, **fields) -> Goal:
    return Goal.objects.create(account=account, kind="monthly_return", target=D("0.10"), active=True, **fields)


def test_members_see_their_goals_and_a_viewer_gets_no_switch(client, desk):
    ours, theirs = goal_on(desk.ours.account), goal_on(desk.theirs.account)
    client.force_login(desk_user("vera", role="viewer", accounts=[desk.ours.account]))

    content = client.get("/goals/").content.decode()

    assert f'id="goal-{ours.pk}"' in content and f'id="goal-{theirs.pk}"' not in content
    assert "goal-catch-up" not in content and "/catch-up" not in content


def test_a_trader_switches_catch_up_on_and_it_is_audited(client, desk):
    goal = goal_on(desk.ours.account)
    trader = desk_user("tom", role="trader", accounts=[desk.ours.account])
    client.force_login(trader)
    assert "No goal backtest yet" in client.get("/goals/").content.decode()  # shown beside the switch

    client.post(f"/goals/{goal.pk}/catch-up", {"enable": "1"})

    goal.refresh_from_db()
    assert goal.catch_up_enabled
    entry = AuditEntry.objects.get(action="goal.change")
    assert (entry.who, entry.via, entry.after["catch_up_enabled"]) == (trader, "page", True)
    assert client.post(f"/goals/{goal_on(desk.theirs.account).pk}/catch-up", {"enable": "1"}).status_code == 404


def test_a_trader_resumes_entries_after_a_drawdown_pause(client, desk):
    goal_on(desk.ours.account)
    DrawdownEvent.objects.create(
        account=desk.ours.account, month=timezone.now().date().replace(day=1), level="pause_new", stance="normal",
        limit=0.05, actual=0.06, value=94, peak=100, reason="goal drawdown protection: 6 % below the peak",
    )  # fmt: skip
    client.force_login(desk_user("tom", role="trader", accounts=[desk.ours.account]))
    assert "6 % below the peak" in client.get("/goals/").content.decode()

    client.post(f"/accounts/{desk.ours.account.pk}/goal-drawdown/clear")

    assert DrawdownEvent.objects.get().cleared_at is not None
    assert AuditEntry.objects.get(action="goal.drawdown_clear").via == "page"
    assert "6 % below the peak" not in client.get("/goals/").content.decode()
