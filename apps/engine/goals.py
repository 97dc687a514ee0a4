"""Financial goals, pure: progress, status, pace and the goal-aware sizing factor.

Floats inside (progress is a ratio, not money); the goals app converts Decimal money at its
boundary. Times are timezone-aware UTC datetimes.

Progress p and expected pace e:
- monthly_return: current = (V_now - V_month_start) / V_month_start; p = current / target.
  A month that starts at 0 has no return: p = 0, status behind, no pace (sizing ignores it).
- monthly_income: current = realized P&L this calendar month (fees included); p = current / target.
- portfolio_value: p = V_now / target; with a deadline the expected value runs linearly from
  the value when the goal was set to the target at the deadline, e = V_expected / target;
  without one there is no pace (status on_track until achieved).
- monthly goals: e = elapsed fraction of the month, by the minute; pace ratio r = p / e.
Status: achieved (p >= 1), on_track (r >= 0.85), at_risk (0.70 <= r < 0.85), behind
(0.50 <= r < 0.70), critical (r < 0.50).

Sizing: one factor in [0.5, 1.3] for each entry, from the pace of the return and income goals
(PACE_BANDS, the mean of the goals' factors), pulled halfway back to 1.0 on days 1-3 of the
month, then capped by portfolio preservation near the portfolio target. A factor above 1.0
(catch-up) only from a goal whose trader enabled catch-up.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

MONTHLY_RETURN = "monthly_return"
MONTHLY_INCOME = "monthly_income"
PORTFOLIO_VALUE = "portfolio_value"
KINDS = (MONTHLY_RETURN, MONTHLY_INCOME, PORTFOLIO_VALUE)

FACTOR_MIN, FACTOR_MAX = 0.5, 1.3
EARLY_MONTH_DAYS = 3  # days 1-3: too little of the month gone for the pace to mean much
PRESERVE_FROM, PRESERVE_FULL = 0.80, 0.95  # share of the portfolio target
PRESERVE_START_FACTOR, PRESERVE_FULL_FACTOR = 0.7, 0.5

# (upper bound of r, inclusive?, factor), first match wins; above the last: 0.7.
PACE_BANDS: tuple[tuple[float, bool, float], ...] = (
    (0.50, False, 1.30),
    (0.70, False, 1.20),
    (0.85, False, 1.10),
    (1.15, True, 1.00),
    (1.30, True, 0.90),
    (1.50, True, 0.80),
)
AHEAD_FACTOR = 0.70


class Status(StrEnum):
    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"
    CRITICAL = "critical"


# The priority of the event a change to this status records.
STATUS_PRIORITY = {
    Status.ACHIEVED: "low",
    Status.ON_TRACK: "low",
    Status.AT_RISK: "medium",
    Status.BEHIND: "high",
    Status.CRITICAL: "high",
}


@dataclass(frozen=True)
class Progress:
    current: float  # the return (fraction), the income (quote) or the value (quote)
    progress: float  # p: share of the target reached
    expected: float | None  # e: share expected by now (None: no pace for this goal)
    pace_ratio: float | None  # r = p / e
    status: Status

    @property
    def achieved(self) -> bool:
        return self.status == Status.ACHIEVED


# --- time ---------------------------------------------------------------------------------


def month_start(now: datetime) -> datetime:
    """00:00 UTC on day 1 of `now`'s month."""
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_end(now: datetime) -> datetime:
    """00:00 UTC on day 1 of the next month."""
    start = month_start(now)
    return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])


def month_elapsed(now: datetime) -> float:
    """Elapsed fraction of the month, by the minute: 0 at 00:00 on day 1."""
    start, end = month_start(now), month_end(now)
    minutes = (now.astimezone(UTC) - start) // timedelta(minutes=1)
    return minutes / ((end - start) // timedelta(minutes=1))


def days_left_in_month(now: datetime) -> int:
    """Calendar days left, today included (1 on the last day)."""
    now = now.astimezone(UTC)
    return calendar.monthrange(now.year, now.month)[1] - now.day + 1


# --- progress and status ------------------------------------------------------------------


def status_of(progress: float, pace_ratio: float | None) -> Status:
    if progress >= 1:
        return Status.ACHIEVED
    if pace_ratio is None or pace_ratio >= 0.85:
        return Status.ON_TRACK
    if pace_ratio >= 0.70:
        return Status.AT_RISK
    if pace_ratio >= 0.50:
        return Status.BEHIND
    return Status.CRITICAL


def pace_ratio_of(progress: float, expected: float) -> float:
    """r = p / e. Nothing expected yet (the month's first minute): on pace unless losing."""
    if expected <= 0:
        return 1.0 if progress >= 0 else progress
    return progress / expected


def _monthly(current: float, target: float, now: datetime) -> Progress:
    progress = current / target
    expected = month_elapsed(now)
    ratio = pace_ratio_of(progress, expected)
    return Progress(current, progress, expected, ratio, status_of(progress, ratio))


def monthly_return_progress(*, value_now: float, month_start_value: float, target: float, now: datetime) -> Progress:
    """`target` a fraction (0.10 for 10 %)."""
    if month_start_value <= 0:  # nothing to compute a return on: no division, no pace
        return Progress(0.0, 0.0, month_elapsed(now), None, Status.BEHIND)
    return _monthly((value_now - month_start_value) / month_start_value, target, now)


def monthly_income_progress(*, realized: float, target: float, now: datetime) -> Progress:
    """`realized` the P&L realized this calendar month, fees included, in quote."""
    return _monthly(realized, target, now)


def portfolio_value_progress(
    *,
    value_now: float,
    target: float,
    now: datetime,
    set_at: datetime | None = None,
    set_value: float | None = None,
    deadline: datetime | None = None,
) -> Progress:
    progress = value_now / target
    if deadline is None or set_at is None or set_value is None or deadline <= set_at:
        return Progress(value_now, progress, None, None, status_of(progress, None))
    elapsed = min(max((now - set_at) / (deadline - set_at), 0.0), 1.0)
    expected = (set_value + (target - set_value) * elapsed) / target
    ratio = pace_ratio_of(progress, expected)
    return Progress(value_now, progress, expected, ratio, status_of(progress, ratio))


def required_daily_return(*, target: float, current: float, days_left: int) -> float | None:
    """The daily return that compounds the month's return `current` to `target` in the days
    left: ((1 + target) / (1 + current)) ** (1 / days_left) - 1. Negative when ahead; None when
    nothing is left to compound (current <= -100 %) or no day is left."""
    if days_left <= 0 or current <= -1:
        return None
    return ((1 + target) / (1 + current)) ** (1 / days_left) - 1


# --- goal-aware sizing --------------------------------------------------------------------


@dataclass(frozen=True)
class PaceInput:
    """A return or income goal as sizing sees it."""

    pace_ratio: float | None  # None: no pace (a month that started at 0): the goal is left out
    achieved: bool = False
    catch_up: bool = False  # the trader allowed this goal to raise the size above 1.0


@dataclass(frozen=True)
class SizingFactors:
    pace: float  # the mean of the goals' pace factors (1.0 without any)
    early_month: float  # after the pull toward 1.0 on days 1-3
    preservation: float | None  # the portfolio preservation cap, when equity is near the target
    final: float
    reason: str


def pace_factor(pace_ratio: float, *, achieved: bool = False) -> float:
    if achieved:
        return AHEAD_FACTOR
    for bound, inclusive, factor in PACE_BANDS:
        if pace_ratio < bound or (inclusive and pace_ratio == bound):
            return factor
    return AHEAD_FACTOR


def preservation_factor(portfolio_fraction: float) -> float | None:
    """Equity as a share of the portfolio target -> the cap on the factor (None below 80 %)."""
    if not portfolio_fraction >= PRESERVE_FROM:
        return None
    if portfolio_fraction >= PRESERVE_FULL:
        return PRESERVE_FULL_FACTOR
    slope = (PRESERVE_START_FACTOR - PRESERVE_FULL_FACTOR) / (PRESERVE_FULL - PRESERVE_FROM)
    return PRESERVE_START_FACTOR - (portfolio_fraction - PRESERVE_FROM) * slope


def sizing_factor(*, paces: list[PaceInput], day_of_month: int, portfolio_fractions: list[float] = ()) -> SizingFactors:
    """The factor applied to an entry's size, with the parts that made it."""
    factors = []
    for goal in paces:
        if goal.pace_ratio is None or not math.isfinite(goal.pace_ratio):
            continue
        factor = pace_factor(goal.pace_ratio, achieved=goal.achieved)
        factors.append(factor if goal.catch_up else min(factor, 1.0))
    pace = sum(factors) / len(factors) if factors else 1.0
    early = 1.0 + (pace - 1.0) / 2 if day_of_month <= EARLY_MONTH_DAYS else pace
    caps = [cap for cap in map(preservation_factor, portfolio_fractions) if cap is not None]
    preservation = min(caps) if caps else None
    final = min(early, preservation) if preservation is not None else early
    final = min(max(final, FACTOR_MIN), FACTOR_MAX)
    return SizingFactors(pace, early, preservation, final, _reason(factors, pace, early, preservation, final, day_of_month))


def _reason(factors, pace, early, preservation, final, day) -> str:
    parts = [
        f"pace {pace:.2f} from {len(factors)} goal{'' if len(factors) == 1 else 's'}"
        if factors
        else "no monthly goal with a pace"
    ]
    if early != pace:
        parts.append(f"day {day} of the month: pulled halfway to 1.0 ({early:.2f})")
    if preservation is not None:
        parts.append(f"near the portfolio target: at most {preservation:.2f}")
    return f"goal sizing x{final:.2f}: " + "; ".join(parts)


# --- adaptive risk stance -----------------------------------------------------------------

AGGRESSIVE, MODERATE, BALANCED, CONSERVATIVE, PROTECTIVE = "aggressive", "moderate", "balanced", "conservative", "protective"
# (stance, pace ratio where the band starts, % there, pace ratio where it ends, % there): the
# max-position % runs linearly between the two ends and stays at the far end's value beyond it.
STANCE_BANDS: tuple[tuple[str, float, float, float, float], ...] = (
    (AGGRESSIVE, 0.70, 12.0, 0.50, 15.0),  # behind (r < 0.70): 12 % at 0.70 up to 15 % at 0.50 and below
    (MODERATE, 0.85, 10.0, 0.70, 12.0),  # at risk (0.70 <= r < 0.85): 10 % at 0.85 up to 12 % at 0.70
    (BALANCED, 1.15, 10.0, 0.85, 10.0),  # on track (0.85 <= r <= 1.15)
    (CONSERVATIVE, 1.15, 10.0, 1.50, 7.0),  # ahead (r > 1.15): 10 % down to 7 % at 1.50 and above
)
PROTECTIVE_PCT = (5.0, 3.0)  # above 90 % of a portfolio target: 5 % at 90 %, 3 % at the target and above
AHEAD_RATIO = 1.50  # an achieved monthly goal counts as this far ahead


@dataclass(frozen=True)
class RiskStance:
    stance: str
    max_position_pct: float  # the stance's own value, before the trader's limit caps it
    progress: float | None  # what chose it: the mean pace ratio, or the portfolio share in protective
    reason: str


def _along(x: float, x0: float, y0: float, x1: float, y1: float) -> float:
    """y on the line (x0, y0) -> (x1, y1), held at the ends."""
    if x0 == x1:
        return y0
    share = min(max((x - x0) / (x1 - x0), 0.0), 1.0)
    return y0 + (y1 - y0) * share


def risk_stance(*, paces: list[PaceInput], portfolio_fractions: list[float] = ()) -> RiskStance:
    """The max-position % the goals put in force (the trader's RiskLimits value always caps it).
    Near a portfolio target (> 90 %) protective wins; else the mean pace ratio of the monthly
    goals (an achieved one counts as 1.50) picks the band; no paced goal: balanced."""
    near = [fraction for fraction in portfolio_fractions if math.isfinite(fraction) and fraction > PROTECTIVE_FROM]
    if near:
        fraction = max(near)
        pct = _along(fraction, PROTECTIVE_FROM, PROTECTIVE_PCT[0], 1.0, PROTECTIVE_PCT[1])
        return RiskStance(PROTECTIVE, pct, fraction, f"protective: equity at {fraction:.0%} of the portfolio target")
    ratios = [
        max(goal.pace_ratio, AHEAD_RATIO) if goal.achieved else goal.pace_ratio
        for goal in paces
        if goal.pace_ratio is not None and math.isfinite(goal.pace_ratio)
    ]
    if not ratios:
        return RiskStance(BALANCED, 10.0, None, "balanced: no monthly goal with a pace")
    ratio = sum(ratios) / len(ratios)
    if ratio < 0.70:
        stance = STANCE_BANDS[0]
    elif ratio < 0.85:
        stance = STANCE_BANDS[1]
    elif ratio <= 1.15:
        stance = STANCE_BANDS[2]
    else:
        stance = STANCE_BANDS[3]
    name, x0, y0, x1, y1 = stance
    pct = _along(ratio, x0, y0, x1, y1)
    return RiskStance(name, pct, ratio, f"{name}: pace {ratio:.2f} of the expected")


# --- goal drawdown protection (monthly peak) ------------------------------------------------

DRAWDOWN_NORMAL, DRAWDOWN_PROTECTIVE = 0.05, 0.02  # of the month's peak equity
PROTECTIVE_FROM = 0.90  # share of the portfolio target above which the tighter limit applies
PAUSE_NEW, REDUCE, CLOSE_ALL = "pause_new", "reduce", "close_all"


@dataclass(frozen=True)
class DrawdownCheck:
    stance: str  # normal / protective
    limit: float
    actual: float  # (month peak - value) / month peak
    actions: tuple[str, ...]  # () within the limit; else pause_new [, reduce [, close_all]]

    @property
    def level(self) -> str:
        return self.actions[-1] if self.actions else ""


def _above(value: float, bound: float) -> bool:
    """value > bound, with a bound met to the last float digits counted as met, not passed."""
    return value > bound and not math.isclose(value, bound, rel_tol=1e-9)


def _at_least(value: float, bound: float) -> bool:
    return value >= bound or math.isclose(value, bound, rel_tol=1e-9)


def drawdown_check(*, month_peak: float, value: float, portfolio_fractions: list[float] = ()) -> DrawdownCheck:
    """Breach > limit: pause new entries; >= 1.5x the limit: also halve every position; > 2x:
    close everything. The limit is 2 % instead of 5 % above 90 % of a portfolio target."""
    protective = any(fraction > PROTECTIVE_FROM for fraction in portfolio_fractions)
    limit = DRAWDOWN_PROTECTIVE if protective else DRAWDOWN_NORMAL
    actual = (month_peak - value) / month_peak if month_peak > 0 else 0.0
    actions = []
    if _above(actual, limit):
        actions.append(PAUSE_NEW)
        if _at_least(actual, 1.5 * limit):
            actions.append(REDUCE)
        if _above(actual, 2 * limit):
            actions.append(CLOSE_ALL)
    return DrawdownCheck("protective" if protective else "normal", limit, actual, tuple(actions))
