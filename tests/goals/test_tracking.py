"""Daily goal snapshots: once per goal and day, a status change evented with its priority."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from apps.common.models import Event
from apps.goals.models import Goal, GoalSnapshot
from apps.goals.services import goals_snapshot
from apps.trading.models import Balance, Position
from tests.trading.factories import account_make, fresh_market

from .support import MID_JUNE, goal_make, month_started_at

pytestmark = pytest.mark.django_db


def worth(account, cash: D) -> None:
    Balance.objects.filter(account=account, asset="USDT").update(free=cash)


def test_a_goal_is_snapshot_once_a_day_and_its_status_evented_once():
    account = account_make(name="daily")
    month_started_at(account, D(10000))
    worth(account, D(10400))  # +4 % with two thirds of the month gone: r = 0.4 / 0.65
    goal = goal_make(account=account)

    with time_machine.travel(MID_JUNE, tick=False):
        first, second = goals_snapshot(), goals_snapshot()

    snapshot = GoalSnapshot.objects.get(goal=goal)
    assert (snapshot.day, snapshot.value, snapshot.month_start_value, snapshot.current) == (
        date(2025, 6, 20),
        D(10400),
        D(10000),
        D("0.04"),
    )
    assert snapshot.status == "behind" and snapshot.pace_ratio == pytest.approx(0.4 / (19.5 / 30))
    assert (first["snapshots"], first["status_changes"], second["status_changes"]) == (1, 1, 0)
    event = Event.objects.get(kind="goal.status_changed")
    assert event.topic == f"goals.{account.pk}"
    assert (event.payload["from"], event.payload["to"], event.payload["priority"]) == ("", "behind", "high")


def test_a_status_change_from_one_day_to_the_next_is_evented_with_its_priority():
    account = account_make(name="change")
    month_started_at(account, D(10000))
    goal_make(account=account)
    worth(account, D(10100))
    with time_machine.travel(datetime(2025, 6, 2, 23, 59, tzinfo=UTC), tick=False):
        goals_snapshot()  # +1 % on day 2 (6 % of the month gone): on track
    worth(account, D(11000))
    with time_machine.travel(datetime(2025, 6, 3, 23, 59, tzinfo=UTC), tick=False):
        goals_snapshot()  # +10 %: achieved early

    changes = [
        (e.payload["from"], e.payload["to"], e.payload["priority"])
        for e in Event.objects.filter(kind="goal.status_changed").order_by("id")
    ]
    assert changes == [("", "on_track", "low"), ("on_track", "achieved", "low")]


def test_ten_percent_of_a_monthly_return_on_day_28_is_critical():
    account = account_make(name="late")
    month_started_at(account, D(10000))
    worth(account, D(10100))
    goal = goal_make(account=account)

    with time_machine.travel(datetime(2025, 6, 28, tzinfo=UTC), tick=False):
        goals_snapshot()

    assert GoalSnapshot.objects.get(goal=goal).status == "critical"
    assert Event.objects.get(kind="goal.status_changed").payload["priority"] == "high"


def test_monthly_income_counts_only_what_was_realized_this_month_fees_included():
    account = account_make(name="income")
    month_started_at(account, D(10000), realized=D(500))  # realized before June
    Position.objects.create(account=account, market=fresh_market(), amount=0, average_entry=D(100), realized_pnl=D(2500))
    goal = goal_make(account=account, kind=Goal.Kind.MONTHLY_INCOME, target="4000")

    with time_machine.travel(MID_JUNE, tick=False):
        goals_snapshot()

    snapshot = GoalSnapshot.objects.get(goal=goal)
    assert snapshot.current == D(2000) and snapshot.progress == 0.5


def test_a_goal_for_all_accounts_sums_them_and_events_to_the_desk_topic():
    for name in ("one", "two"):
        account = account_make(name=name)
        month_started_at(account, D(10000))
    goal = goal_make(kind=Goal.Kind.PORTFOLIO_VALUE, target="40000")

    with time_machine.travel(MID_JUNE, tick=False):
        goals_snapshot()

    assert GoalSnapshot.objects.get(goal=goal).progress == 0.5
    assert Event.objects.get(kind="goal.status_changed").topic == "goals.global"


def test_a_past_day_is_snapshot_from_the_portfolio_snapshots_at_its_end():
    account = account_make(name="past")
    month_started_at(account, D(10000))
    month_started_at(account, D(10500), at=datetime(2025, 6, 10, 18, tzinfo=UTC))
    worth(account, D(12000))  # today's value: not the past day's
    goal = goal_make(account=account)

    with time_machine.travel(MID_JUNE, tick=False):
        goals_snapshot(on=date(2025, 6, 10))

    snapshot = GoalSnapshot.objects.get(goal=goal)
    assert (snapshot.day, snapshot.value, snapshot.current) == (date(2025, 6, 10), D(10500), D("0.05"))


def test_an_inactive_goal_is_not_tracked():
    account = account_make(name="idle")
    Goal.objects.create(account=account, kind=Goal.Kind.MONTHLY_RETURN, target=D("0.1"), active=False)

    assert goals_snapshot()["snapshots"] == 0


def test_the_command_snapshots_today_and_refuses_a_day_to_come():
    account = account_make(name="command")
    month_started_at(account, D(10000), at=datetime.now(UTC) - timedelta(days=40))
    goal_make(account=account)
    out = StringIO()

    call_command("goals_snapshot", stdout=out)

    assert "1 snapshots" in out.getvalue() and GoalSnapshot.objects.count() == 1
    with pytest.raises(CommandError, match="has not come yet"):
        call_command("goals_snapshot", "--on", (datetime.now(UTC) + timedelta(days=2)).date().isoformat())
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("goals_snapshot", "--on", "yesterday")


def test_the_seed_goals_wait_inactive_for_a_trader_to_switch_them_on():
    seeded = {(goal.kind, goal.target, goal.active, goal.account_id) for goal in Goal.objects.all()}

    assert seeded == {
        ("monthly_return", D("0.1"), False, None),
        ("monthly_income", D(4000), False, None),
        ("portfolio_value", D(1000000), False, None),
    }


def test_the_daily_snapshot_is_installed_at_23_59_utc():
    from django_celery_beat.models import PeriodicTask

    from apps.desk.beat import beat_schedule_install
    from tradedesk.celery import DEFAULT_BEAT_SCHEDULE

    beat_schedule_install(DEFAULT_BEAT_SCHEDULE)

    daily = PeriodicTask.objects.get(task="apps.goals.tasks.goals_snapshot")
    assert (daily.crontab.minute, daily.crontab.hour, str(daily.crontab.timezone)) == ("59", "23", "UTC")
    assert PeriodicTask.objects.get(task="apps.goals.tasks.sizing_stances_refresh").interval.every == 300
