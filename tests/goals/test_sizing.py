"""Goal-aware sizing at placement: the factor scales entries only, never past a hard limit."""

from decimal import Decimal as D

import pytest
import time_machine

from apps.goals.models import Goal, GoalAdjustment
from apps.goals.services import sizing_stances_refresh
from apps.risk.models import RiskLimits, SizingStance
from apps.trading.models import Position
from apps.trading.services.placement import signal_execute
from tests.trading.factories import signal_make

from .support import MID_JUNE, desk, goal_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mid_june")]


@pytest.fixture
def mid_june():
    with time_machine.travel(MID_JUNE, tick=False):
        yield


def entry(strategy, market):
    return signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)


def test_a_goal_behind_pace_without_catch_up_never_increases_an_entry():
    account, market, strategy = desk("behind")
    goal_make(account=account)  # 0 % of a 10 % month with two thirds gone: critical

    sizing_stances_refresh()
    order = entry(strategy, market)

    assert SizingStance.objects.get(account=account).factor == D(1)
    assert order.amount == D("9.99")  # 1000 / (100 + 0.1 % fee), as without the goal
    adjustment = GoalAdjustment.objects.get()
    assert (adjustment.base_size, adjustment.final_factor, adjustment.final_size) == (D(1000), D(1), D(1000))
    assert adjustment.pace_factor == 1.0 and adjustment.signal_id == order.signal_id


def test_catch_up_increases_an_entry_when_the_trader_enabled_it():
    account, market, strategy = desk("catch-up")
    goal_make(account=account, catch_up=True)

    sizing_stances_refresh()
    order = entry(strategy, market)

    assert order.amount == D("12.987")  # 1300 / 100.1
    assert GoalAdjustment.objects.get().capped_by == ""


def test_catch_up_never_makes_an_entry_exceed_max_order_notional():
    account, market, strategy = desk("capped")
    RiskLimits.objects.create(account=account, max_order_notional=D(1200))
    goal_make(account=account, catch_up=True)

    sizing_stances_refresh()
    order = entry(strategy, market)

    assert order is not None and order.amount * order.price <= D(1200)
    assert order.amount == D("11.988")  # 1200 / 100.1
    adjustment = GoalAdjustment.objects.get()
    assert (adjustment.final_factor, adjustment.final_size, adjustment.capped_by) == (D("1.3"), D(1200), "max_order_notional")


def test_catch_up_never_makes_a_position_exceed_max_position_pct():
    account, market, strategy = desk("position-capped")
    RiskLimits.objects.create(account=account, max_position_pct=D(11))  # 1,100 of 10,000
    goal_make(account=account, catch_up=True)

    sizing_stances_refresh()
    order = entry(strategy, market)

    assert order.amount * order.price <= D(1100)
    assert GoalAdjustment.objects.get().capped_by == "max_position_pct"


def test_a_hard_limit_below_the_size_as_set_still_refuses_the_entry():
    account, market, strategy = desk("refused")
    RiskLimits.objects.create(account=account, max_order_notional=D(500))
    goal_make(account=account, catch_up=True)

    sizing_stances_refresh()

    assert entry(strategy, market) is None  # the cap never cuts below the size as set: the rules decide


def test_preservation_reduces_entries_near_the_portfolio_target():
    account, market, strategy = desk("preserve")
    goal_make(account=account, kind=Goal.Kind.PORTFOLIO_VALUE, target="12500")  # 80 % reached
    goal_make(account=account, catch_up=True)  # behind pace, catch-up on: preservation wins

    sizing_stances_refresh()
    order = entry(strategy, market)

    assert order.amount == D("6.993")  # 700 / 100.1
    adjustment = GoalAdjustment.objects.get()
    assert (adjustment.pace_factor, adjustment.preservation_factor, adjustment.final_factor) == (1.3, 0.7, D("0.7"))


def test_exits_are_never_resized():
    account, market, strategy = desk("exit")
    goal_make(account=account, kind=Goal.Kind.PORTFOLIO_VALUE, target="10000")  # reached: x0.5 on entries
    Position.objects.create(account=account, market=market, amount=D("2"), average_entry=D("100"))

    sizing_stances_refresh()
    close = signal_execute(signal_id=signal_make(strategy=strategy, market=market, side="sell", intent="close").pk)

    assert close.amount == D("2")
    assert not GoalAdjustment.objects.exists()


def test_without_an_active_goal_entries_are_sized_as_set_and_nothing_is_logged():
    account, market, strategy = desk("no-goal")
    goal = goal_make(account=account, catch_up=True)
    sizing_stances_refresh()
    goal.active = False
    goal.save()

    sizing_stances_refresh()
    order = entry(strategy, market)

    assert order.amount == D("9.99")
    assert not SizingStance.objects.exists() and not GoalAdjustment.objects.exists()


def test_a_goal_for_all_accounts_steers_every_account():
    account, market, strategy = desk("everyone")
    goal_make(kind=Goal.Kind.PORTFOLIO_VALUE, target="12500")  # 80 % reached: x0.7

    sizing_stances_refresh()

    assert entry(strategy, market).amount == D("6.993")


def test_a_goal_whose_factor_cannot_be_computed_falls_back_to_one_with_the_reason():
    account, market, strategy = desk("broken")
    goal_make(account=account, target="0", catch_up=True)  # a zero target got past the form: division by zero

    stance = SizingStance.objects.get(account=account) if sizing_stances_refresh() else None

    assert stance.factor == D(1) and "goal sizing failed" in stance.reason
    assert entry(strategy, market).amount == D("9.99")
