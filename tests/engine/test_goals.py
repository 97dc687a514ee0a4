"""Goal rules: progress, status bands, pace, required daily return and the sizing factor."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.engine.goals import (
    PaceInput,
    Status,
    days_left_in_month,
    drawdown_check,
    month_elapsed,
    monthly_income_progress,
    monthly_return_progress,
    pace_factor,
    portfolio_value_progress,
    preservation_factor,
    required_daily_return,
    risk_stance,
    sizing_factor,
    status_of,
)

JUNE_1 = datetime(2025, 6, 1, tzinfo=UTC)  # a 30-day month


def june(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=UTC)


# --- time -----------------------------------------------------------------------------------


def test_the_month_is_measured_by_the_minute_from_midnight_on_day_one():
    assert month_elapsed(june(1)) == 0
    assert month_elapsed(june(16)) == pytest.approx(0.5)
    assert month_elapsed(june(30, 23, 59)) == pytest.approx(1 - 1 / (30 * 24 * 60))


def test_days_left_count_today():
    assert days_left_in_month(june(1)) == 30
    assert days_left_in_month(june(30, 23, 59)) == 1
    assert days_left_in_month(datetime(2024, 2, 29, tzinfo=UTC)) == 1


# --- status bands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "ratio", "status"),
    [
        (1.0, 0.1, Status.ACHIEVED),
        (0.99, 0.85, Status.ON_TRACK),
        (0.5, 0.8499, Status.AT_RISK),
        (0.5, 0.70, Status.AT_RISK),
        (0.5, 0.6999, Status.BEHIND),
        (0.5, 0.50, Status.BEHIND),
        (0.5, 0.4999, Status.CRITICAL),
        (0.5, 3.0, Status.ON_TRACK),
    ],
)
def test_status_follows_the_pace_bands(progress, ratio, status):
    assert status_of(progress, ratio) == status


def test_ten_percent_of_the_target_on_day_28_is_critical():
    # 10 % monthly return target, +1 % so far: p = 0.10 while 90 % of the month has gone.
    result = monthly_return_progress(value_now=10_100, month_start_value=10_000, target=0.10, now=june(28))
    assert result.progress == pytest.approx(0.10)
    assert result.expected == pytest.approx(0.9)
    assert result.status == Status.CRITICAL


def test_a_target_reached_early_is_achieved():
    result = monthly_return_progress(value_now=11_000, month_start_value=10_000, target=0.10, now=june(5))
    assert result.status == Status.ACHIEVED
    assert result.pace_ratio > 1


def test_a_month_that_starts_at_zero_is_behind_without_dividing_by_zero():
    result = monthly_return_progress(value_now=500, month_start_value=0, target=0.10, now=june(10))
    assert (result.current, result.progress, result.pace_ratio, result.status) == (0.0, 0.0, None, Status.BEHIND)


def test_a_losing_month_is_critical():
    result = monthly_return_progress(value_now=9_500, month_start_value=10_000, target=0.10, now=june(10))
    assert result.current == pytest.approx(-0.05)
    assert result.pace_ratio < 0
    assert result.status == Status.CRITICAL


def test_at_midnight_on_day_one_nothing_is_expected_yet():
    result = monthly_income_progress(realized=0, target=4000, now=june(1))
    assert (result.expected, result.pace_ratio, result.status) == (0, 1.0, Status.ON_TRACK)


def test_a_loss_at_midnight_on_day_one_is_already_behind():
    assert monthly_income_progress(realized=-10, target=4000, now=june(1)).status == Status.CRITICAL


def test_on_the_last_minute_of_the_month_the_whole_target_is_expected():
    result = monthly_income_progress(realized=3_500, target=4_000, now=june(30, 23, 59))
    assert result.expected == pytest.approx(1, abs=1e-4)
    assert result.pace_ratio == pytest.approx(0.875, abs=1e-4)
    assert result.status == Status.ON_TRACK


def test_monthly_income_is_paced_through_the_month():
    result = monthly_income_progress(realized=1_000, target=4_000, now=june(16))
    assert (result.progress, result.pace_ratio, result.status) == (0.25, pytest.approx(0.5), Status.BEHIND)


def test_a_portfolio_goal_without_deadline_has_no_pace():
    result = portfolio_value_progress(value_now=500_000, target=1_000_000, now=june(10))
    assert (result.progress, result.pace_ratio, result.status) == (0.5, None, Status.ON_TRACK)


def test_a_portfolio_goal_with_deadline_follows_a_straight_line_from_where_it_was_set():
    # Set at 400k on June 1st, 1M due on July 1st: 700k expected mid-month.
    result = portfolio_value_progress(
        value_now=560_000,
        target=1_000_000,
        now=june(16),
        set_at=JUNE_1,
        set_value=400_000,
        deadline=datetime(2025, 7, 1, tzinfo=UTC),
    )
    assert result.expected == pytest.approx(0.7)
    assert result.pace_ratio == pytest.approx(0.8)
    assert result.status == Status.AT_RISK


def test_after_its_deadline_a_portfolio_goal_expects_the_whole_target():
    result = portfolio_value_progress(
        value_now=900_000, target=1_000_000, now=june(20), set_at=JUNE_1 - timedelta(days=60), set_value=100_000, deadline=JUNE_1
    )
    assert (result.expected, result.pace_ratio) == (1.0, 0.9)


def test_required_daily_return_compounds_to_the_target():
    daily = required_daily_return(target=0.10, current=0.02, days_left=10)
    assert (1.02 * (1 + daily) ** 10) == pytest.approx(1.10)
    assert required_daily_return(target=0.10, current=0.12, days_left=3) < 0
    assert required_daily_return(target=0.10, current=-1.0, days_left=3) is None
    assert required_daily_return(target=0.10, current=0.0, days_left=0) is None


# --- sizing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "factor"),
    [
        (-1.0, 1.3),
        (0.4999, 1.3),
        (0.50, 1.2),
        (0.6999, 1.2),
        (0.70, 1.1),
        (0.8499, 1.1),
        (0.85, 1.0),
        (1.0, 1.0),
        (1.15, 1.0),
        (1.1501, 0.9),
        (1.30, 0.9),
        (1.3001, 0.8),
        (1.50, 0.8),
        (1.5001, 0.7),
        (9.0, 0.7),
    ],
)
def test_pace_factor_bands(ratio, factor):
    assert pace_factor(ratio) == factor


def test_an_achieved_goal_sizes_at_seventy_percent():
    assert pace_factor(0.9, achieved=True) == 0.7


@pytest.mark.parametrize(("fraction", "cap"), [(0.7999, None), (0.80, 0.7), (0.875, 0.6), (0.95, 0.5), (1.2, 0.5)])
def test_preservation_falls_from_seventy_to_fifty_percent_near_the_portfolio_target(fraction, cap):
    assert preservation_factor(fraction) == (None if cap is None else pytest.approx(cap))


def test_behind_pace_never_raises_the_size_without_catch_up():
    assert sizing_factor(paces=[PaceInput(0.3)], day_of_month=20).final == 1.0


def test_behind_pace_with_catch_up_raises_the_size():
    assert sizing_factor(paces=[PaceInput(0.3, catch_up=True)], day_of_month=20).final == 1.3


def test_two_goals_are_combined_by_their_mean():
    factors = sizing_factor(paces=[PaceInput(0.3, catch_up=True), PaceInput(1.4)], day_of_month=20)
    assert factors.final == pytest.approx((1.3 + 0.8) / 2)


def test_the_first_three_days_are_pulled_halfway_to_one():
    assert sizing_factor(paces=[PaceInput(2.0)], day_of_month=3).final == pytest.approx(0.85)
    assert sizing_factor(paces=[PaceInput(2.0)], day_of_month=4).final == pytest.approx(0.7)


def test_preservation_beats_catch_up():
    factors = sizing_factor(paces=[PaceInput(0.1, catch_up=True)], day_of_month=20, portfolio_fractions=[0.96])
    assert (factors.pace, factors.preservation, factors.final) == (1.3, 0.5, 0.5)
    assert "portfolio target" in factors.reason


def test_a_goal_without_pace_leaves_the_size_alone():
    assert sizing_factor(paces=[PaceInput(None, catch_up=True)], day_of_month=20).final == 1.0


pace_inputs = st.builds(
    PaceInput, pace_ratio=st.one_of(st.none(), st.floats(allow_nan=True)), achieved=st.booleans(), catch_up=st.booleans()
)


@given(
    paces=st.lists(pace_inputs, max_size=4),
    day=st.integers(1, 31),
    fractions=st.lists(st.floats(min_value=-10, max_value=10), max_size=2),
)
def test_the_factor_always_stays_within_half_and_one_point_three(paces, day, fractions):
    assert 0.5 <= sizing_factor(paces=paces, day_of_month=day, portfolio_fractions=fractions).final <= 1.3


@given(
    paces=st.lists(st.builds(PaceInput, pace_ratio=st.floats(allow_nan=False), achieved=st.booleans()), max_size=4),
    day=st.integers(1, 31),
    fractions=st.lists(st.floats(min_value=-10, max_value=10), max_size=2),
)
def test_without_catch_up_the_factor_never_exceeds_one(paces, day, fractions):
    assert sizing_factor(paces=paces, day_of_month=day, portfolio_fractions=fractions).final <= 1.0


@given(
    start=st.floats(min_value=0, max_value=1e9),
    now_value=st.floats(min_value=0, max_value=1e9),
    minute=st.integers(0, 30 * 24 * 60 - 1),
)
def test_monthly_return_progress_never_fails(start, now_value, minute):
    result = monthly_return_progress(
        value_now=now_value, month_start_value=start, target=0.10, now=JUNE_1 + timedelta(minutes=minute)
    )
    assert result.status in set(Status)


# --- goal drawdown protection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "actions"),
    [
        (95.0, ()),
        (94.99, ("pause_new",)),
        (92.51, ("pause_new",)),
        (92.5, ("pause_new", "reduce")),
        (90.0, ("pause_new", "reduce")),
        (89.99, ("pause_new", "reduce", "close_all")),
    ],
)
def test_the_monthly_drawdown_pauses_then_reduces_then_closes_all(value, actions):
    check = drawdown_check(month_peak=100.0, value=value)
    assert (check.stance, check.limit, check.actions) == ("normal", 0.05, actions)


@pytest.mark.parametrize(("value", "level"), [(98.0, ""), (97.9, "pause_new"), (97.0, "reduce"), (95.9, "close_all")])
def test_above_ninety_percent_of_the_portfolio_target_the_limit_is_two_percent(value, level):
    check = drawdown_check(month_peak=100.0, value=value, portfolio_fractions=[0.91])
    assert (check.stance, check.limit, check.level) == ("protective", 0.02, level)


def test_a_month_without_a_peak_has_no_drawdown():
    assert drawdown_check(month_peak=0.0, value=0.0).actions == ()


def test_exactly_ninety_percent_of_the_portfolio_target_keeps_the_normal_limit():
    assert drawdown_check(month_peak=100.0, value=96.0, portfolio_fractions=[0.90]).limit == 0.05


# --- adaptive risk stance -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "stance", "pct"),
    [
        (-1.0, "aggressive", 15.0),
        (0.50, "aggressive", 15.0),
        (0.60, "aggressive", 13.5),
        (0.6999, "aggressive", 12.0),
        (0.70, "moderate", 12.0),
        (0.775, "moderate", 11.0),
        (0.8499, "moderate", 10.0),
        (0.85, "balanced", 10.0),
        (1.15, "balanced", 10.0),
        (1.1501, "conservative", 10.0),
        (1.325, "conservative", 8.5),
        (1.50, "conservative", 7.0),
        (4.0, "conservative", 7.0),
    ],
)
def test_the_risk_stance_follows_the_pace_bands_interpolated(ratio, stance, pct):
    result = risk_stance(paces=[PaceInput(ratio)])
    assert (result.stance, result.max_position_pct) == (stance, pytest.approx(pct, abs=0.01))


def test_an_achieved_monthly_goal_is_conservative():
    assert risk_stance(paces=[PaceInput(0.9, achieved=True)]).max_position_pct == 7.0


@pytest.mark.parametrize(
    ("fraction", "stance", "pct"),
    [
        (0.90, "balanced", 10.0),
        (0.9001, "protective", 5.0),
        (0.95, "protective", 4.0),
        (1.0, "protective", 3.0),
        (1.4, "protective", 3.0),
    ],
)
def test_above_ninety_percent_of_the_portfolio_target_the_stance_is_protective(fraction, stance, pct):
    result = risk_stance(paces=[PaceInput(0.3)] if stance == "protective" else [], portfolio_fractions=[fraction])
    assert (result.stance, result.max_position_pct) == (stance, pytest.approx(pct, abs=0.01))


def test_without_a_paced_goal_the_stance_is_balanced():
    assert risk_stance(paces=[PaceInput(None)]).stance == "balanced"
