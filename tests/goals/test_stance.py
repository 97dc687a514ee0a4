"""The adaptive risk stance at placement, a failed goal sizing, and a pause that ends with the month."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
import time_machine

from apps.goals.models import DrawdownEvent, GoalAdjustment, RiskLimitAdjustment
from apps.goals.services import sizing_stances_refresh
from apps.risk.models import RiskEvent, RiskLimits, SizingStance
from apps.trading.models import PortfolioSnapshot
from apps.trading.services.placement import signal_execute
from tests.trading.factories import fresh_market, signal_make

from .support import MID_JUNE, desk, goal_make

pytestmark = pytest.mark.django_db


def entry(strategy, market):
    return signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)


@time_machine.travel(MID_JUNE, tick=False)
def test_a_goal_behind_pace_is_aggressive_but_never_above_the_traders_limit():
    account, market, strategy = desk("stance", allocation=D("1100"))
    RiskLimits.objects.create(account=account, max_position_pct=D(12))
    goal_make(account=account)  # 0 % with two thirds gone: critical, aggressive 15 %

    sizing_stances_refresh()

    adjustment = RiskLimitAdjustment.objects.get()
    assert (adjustment.stance, adjustment.limit, adjustment.base) == ("aggressive", D(12), D(12))
    assert "capped by the trader's 12 %" in adjustment.reason
    assert entry(strategy, market) is not None  # 11 % of equity fits under 12 %
    sizing_stances_refresh()
    assert RiskLimitAdjustment.objects.count() == 1  # recorded on a change only


@time_machine.travel(MID_JUNE, tick=False)
def test_a_goal_ahead_is_conservative_and_refuses_an_entry_above_its_seven_percent():
    account, market, strategy = desk("ahead", cash=D("11500"), allocation=D("1300"))
    PortfolioSnapshot.objects.filter(account=account).update(equity=D("10000"))  # +15 %: achieved
    goal_make(account=account)

    sizing_stances_refresh()

    assert SizingStance.objects.get(account=account).max_position_pct == D(7)
    assert entry(strategy, market) is None  # 1300 x 0.7 = 910 is 7.9 % of 11,500
    refusal = RiskEvent.objects.latest("pk")
    assert refusal.rules == ["max_position_pct"] and "(max 7%)" in refusal.reason


@time_machine.travel(MID_JUNE, tick=False)
def test_a_sizing_that_fails_at_placement_is_logged_at_one(monkeypatch):
    account, market, strategy = desk("fails")
    goal_make(account=account, catch_up=True)
    sizing_stances_refresh()
    monkeypatch.setattr("apps.risk.sizing._sized", lambda *args: 1 / 0)

    order = entry(strategy, market)

    assert order.amount == D("9.99")  # as set
    adjustment = GoalAdjustment.objects.get()
    assert adjustment.final_factor == 1 and "goal sizing failed (ZeroDivisionError" in adjustment.reason


def test_a_pause_ends_with_the_month():
    with time_machine.travel(MID_JUNE, tick=False):
        account, market, strategy = desk("month", cash=D("9000"))
        PortfolioSnapshot.objects.filter(account=account).update(equity=D("9500"))  # peak 9,500: 5.3 % down
        goal_make(account=account)
        sizing_stances_refresh()
        assert DrawdownEvent.objects.get().level == "pause_new"
        assert entry(strategy, market) is None
    with time_machine.travel(MID_JUNE + timedelta(days=12), tick=False):  # 2 July
        PortfolioSnapshot.objects.create(
            account=account,
            taken_at=MID_JUNE + timedelta(days=11),
            equity=D("9000"),
            cash=D("9000"),
            positions_value=0,
            realized_pnl=0,
            unrealized_pnl=0,
        )
        fresh_market()  # today's candle and price
        sizing_stances_refresh()
        assert SizingStance.objects.get(account=account).entries_paused == ""
        assert entry(strategy, market) is not None
