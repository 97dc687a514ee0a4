"""`backtest --goal`: the goal figures of the run, and the run with goal-aware sizing beside it."""

from decimal import Decimal as D

import pytest
from django.core.management import CommandError

from apps.goals.models import Goal
from apps.markets.models import Market
from apps.strategies.models import BacktestRun
from tests.strategies.backtest_seed import command_output, market_seeded
from tests.trading.factories import account_make, strategy_make

pytestmark = pytest.mark.django_db


def test_goals_add_their_figures_and_the_sizing_comparison_to_the_report(tmp_path, admin_client):
    market_seeded(symbols=("BTC/USDT",), days=75, timeframes="1h")
    market = Market.objects.get(symbol="BTC/USDT")
    strategy = strategy_make(account=account_make(), markets=[market], kind="rsi", allocation=D("1000"))  # 10 % a trade
    out = command_output(
        "backtest", "--no-progress", "--strategy", str(strategy.pk), "--timeframe", "1h",
        "--goal", "monthly_return=0.10", "--goal", "portfolio_value=1000000", "--output", str(tmp_path),
    )  # fmt: skip

    goals = BacktestRun.objects.get().metrics["goals"]
    assert goals["months"] == 3 and goals["resamples"] == 10_000
    assert 0 <= goals["monthly_return"]["probability"] <= 1
    assert goals["monthly_return"]["share_of_months"] in (0, 1 / 3, 2 / 3, 1)
    assert set(goals["sizing"]["off"]) == set(goals["sizing"]["on"]) == {"return", "max_drawdown", "worst_month", "p_drawdown_20"}
    assert goals["sizing"]["off"]["return"] != goals["sizing"]["on"]["return"]  # the sizing changed the run
    assert "Months >= 10.00% return" in out and "P(month >= 10.00%), bootstrap" in out
    assert "Months to 1,000,000" in out and "on (catch-up)" in out and "P(drawdown >= 20 %)" in out

    # The form that switches catch-up on shows what it cost in this run.
    goal = Goal.objects.create(account=strategy.account, kind="monthly_return", target=D("0.10"))
    form = admin_client.get(f"/admin/goals/goal/{goal.pk}/change/").content.decode()
    assert "What catch-up cost in the backtest" in form and f"backtest #{BacktestRun.objects.get().pk}" in form
    assert f"{goals['sizing']['on']['return']:+.2%}" in form


def test_every_bad_goal_option_is_reported_at_once():
    with pytest.raises(CommandError) as refused:
        command_output("backtest", "--strategy", "rsi", "--goal", "monthly_retrun=0.1", "--goal", "portfolio_value=-5")
    assert "'monthly_retrun=0.1'" in str(refused.value) and "portfolio value target must be above 0" in str(refused.value).lower()
