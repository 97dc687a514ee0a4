"""The performance selector against hand calculations on a seeded history
(tests/trading/performance_history.py)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import numpy as np
import pytest

from apps.common.errors import Invalid, NotFound
from apps.engine import metrics
from apps.trading.performance import performance_for_user, performance_report, round_trips
from tests.trading.factories import account_make
from tests.trading.people import person_make
from tests.trading.performance_history import history_seed, snapshots_seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    return history_seed()


def pairs(rows):
    return [(row.period, row.pnl) for row in rows]


def test_an_accounts_return_drawdown_and_calendar_are_the_hand_calculation(history):
    report = performance_report(account_ids=[history.account.pk])

    assert report.initial_equity == D("1000") and report.final_equity == D("1089")
    assert report.total_pnl == D("89")
    assert report.total_return_pct == pytest.approx(8.9)
    assert report.max_drawdown_pct == pytest.approx(10.0)  # 1100 -> 990
    assert report.drawdown_start == "2025-01-31T23:00:00Z" and report.drawdown_trough == "2025-02-01T12:00:00Z"
    assert pairs(report.daily) == [
        ("2025-01-30", D("0")),
        ("2025-01-31", D("100")),
        ("2025-02-01", D("-110")),
        ("2025-02-28", D("99")),
    ]
    assert [(m.period, round(m.return_pct, 6)) for m in report.monthly] == [("2025-01", 10.0), ("2025-02", -1.0)]
    assert [(p.equity, p.peak, round(p.drawdown_pct, 6)) for p in report.equity] == [
        (D("1000"), D("1000"), 0.0),
        (D("1100"), D("1100"), 0.0),
        (D("990"), D("1100"), 10.0),
        (D("1089"), D("1100"), 1.0),
    ]


def test_weeks_start_on_monday_and_months_sum_the_days(history):
    weekly = performance_report(account_ids=[history.account.pk], by="week")
    monthly = performance_report(account_ids=[history.account.pk], by="month")

    # Thursday 30 Jan to Saturday 1 Feb is one week (Monday 27 Jan); Friday 28 Feb is another.
    assert pairs(weekly.pnl_by) == [("2025-01-27", D("-10")), ("2025-02-24", D("99"))]
    assert pairs(monthly.pnl_by) == [("2025-01", D("100")), ("2025-02", D("-11"))]
    assert sum(p.pnl for p in weekly.daily) == sum(p.pnl for p in monthly.pnl_by) == D("89")


def test_trades_are_round_trips_net_of_every_fee(history):
    report = performance_report(account_ids=[history.account.pk])

    assert report.trades == 3 and report.wins == 2 and report.losses == 1 and report.open_trades == 1
    assert report.realized_pnl == D("9.79") + D("-10.19") + D("24.775")
    assert report.fees == D("0.665")  # 0.21 + 0.19 + 0.225 + 0.04 (the open trade's entry)
    assert report.win_rate_pct == pytest.approx(200 / 3)
    assert report.profit_factor == pytest.approx((9.79 + 24.775) / 10.19)
    assert report.exposure_pct == pytest.approx(25.0)  # only the 28 Feb snapshot sees a trade open (D)
    assert report.sharpe is None and report.unavailable == {"sharpe": metrics.TOO_FEW_DAYS}


def test_attribution_per_strategy_and_per_market(history):
    report = performance_report(account_ids=[history.account.pk])

    by_strategy = {row.name: (row.pnl, row.trades, row.win_rate_pct, row.profit_factor) for row in report.per_strategy}
    assert by_strategy == {"perf trend": (D("34.565"), 2, 100.0, None), "perf swing": (D("-10.19"), 1, 0.0, 0.0)}
    by_market = {row.name: (row.pnl, row.fees) for row in report.per_market}
    assert by_market == {"BTC/USDT": (D("34.565"), D("0.435")), "ETH/USDT": (D("-10.19"), D("0.19"))}


def test_a_strategy_is_measured_by_its_own_trades_on_its_accounts_equity(history):
    trend = performance_report(account_ids=[history.account.pk], strategy_id=history.trend.pk)
    swing = performance_report(account_ids=[history.account.pk], strategy_id=history.swing.pk)

    assert trend.initial_equity == D("1000") and trend.final_equity == D("1034.565")
    assert trend.total_return_pct == pytest.approx(3.4565) and trend.max_drawdown_pct == 0.0
    assert (trend.trades, trend.fees, trend.unrealized_pnl) == (2, D("0.435"), D("0"))
    assert swing.total_return_pct == pytest.approx(-1.019) and swing.max_drawdown_pct == pytest.approx(1.019)
    assert (swing.trades, swing.open_trades, swing.unrealized_pnl, swing.fees) == (1, 1, D("4"), D("0.23"))


def test_a_period_starts_from_the_equity_at_its_start(history):
    report = performance_report(account_ids=[history.account.pk], start=datetime(2025, 2, 1, tzinfo=UTC))

    assert report.initial_equity == D("1100")  # the 31 Jan 23:00 snapshot
    assert report.total_return_pct == pytest.approx(-1.0) and report.max_drawdown_pct == pytest.approx(10.0)
    assert pairs(report.daily) == [("2025-02-01", D("-110")), ("2025-02-28", D("99"))]
    assert report.trades == 1 and report.realized_pnl == D("24.775")  # C closed in February; A and B before


def test_all_accounts_add_up_and_a_new_account_is_no_gain(history):
    other = account_make(name="second")
    snapshots_seed(other, [(datetime(2025, 1, 31, 12, tzinfo=UTC), D("500")), (datetime(2025, 2, 15, tzinfo=UTC), D("600"))])
    owner = person_make("olga", role="viewer", accounts=[history.account, other])

    report = performance_for_user(user=owner)

    assert sorted(report.account_ids) == sorted([history.account.pk, other.pk])
    assert report.initial_equity == D("1500") and report.final_equity == D("1689")
    assert report.total_return_pct == pytest.approx(12.6)
    assert [p.equity for p in report.equity] == [D("1500"), D("1500"), D("1600"), D("1490"), D("1590"), D("1689")]


def test_sharpe_over_a_month_of_daily_snapshots_is_the_backtests(db):
    account = account_make(name="daily")
    start = datetime(2025, 3, 1, 23, tzinfo=UTC)
    values = [D("1000") + D(k % 3) * 7 + k for k in range(40)]
    snapshots_seed(account, [(start + timedelta(days=k), v) for k, v in enumerate(values)])

    report = performance_report(account_ids=[account.pk])

    floats = np.array([float(v) for v in values])
    daily = floats[1:] / floats[:-1] - 1  # the first day is the initial equity itself
    assert report.sharpe == pytest.approx(metrics.sharpe_ratio(np.concatenate(([0.0], daily))))
    assert "sharpe" not in report.unavailable


def test_someone_elses_account_or_strategy_is_not_found(history):
    stranger = person_make("sam", role="trader")

    with pytest.raises(NotFound):
        performance_for_user(user=stranger, account_id=history.account.pk)
    with pytest.raises(NotFound):
        performance_for_user(user=stranger, strategy_id=history.trend.pk)
    assert performance_for_user(user=stranger).account_ids == []


def test_a_bad_period_is_refused_with_every_field():
    with pytest.raises(Invalid) as refused:
        performance_report(
            account_ids=[], by="year", start=datetime(2025, 2, 1, tzinfo=UTC), end=datetime(2025, 1, 1, tzinfo=UTC)
        )

    assert set(refused.value.fields) == {"by", "start"}


def test_round_trips_replay_the_positions_rules(history):
    trips = round_trips(account_ids=[history.account.pk])

    assert [(t.symbol, t.pnl, t.exit_time is None) for t in trips] == [
        ("BTC/USDT", D("9.79"), False),
        ("ETH/USDT", D("-10.19"), False),
        ("BTC/USDT", D("24.775"), False),
        ("ETH/USDT", D("-0.04"), True),
    ]


def test_a_years_curve_is_thinned_for_the_chart_but_keeps_its_peak_trough_and_ends():
    from apps.trading.performance import EquityPoint, curve_thinned

    hour = 3_600_000
    equity = [D(100_000) + D(i % 977) - D(i % 313) for i in range(8760)]
    equity[4321] = D(150_000)  # the year's peak
    equity[6000] = D(50_000)  # and its trough
    peak, points = D(0), []
    for i, value in enumerate(equity):
        peak = max(peak, value)
        points.append(EquityPoint(ms=i * hour, equity=value, peak=peak, drawdown_pct=float((peak - value) / peak * 100)))

    drawn = curve_thinned(points, limit=1500)

    assert len(drawn) <= 1500
    assert drawn[0] == points[0] and drawn[-1] == points[-1]
    assert points[4321] in drawn and points[6000] in drawn
    assert max(p.drawdown_pct for p in drawn) == max(p.drawdown_pct for p in points)
    assert [p.ms for p in drawn] == sorted(p.ms for p in drawn)
    assert curve_thinned(points[:100], limit=1500) == points[:100]  # a short curve is drawn whole
