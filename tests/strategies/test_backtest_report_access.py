"""A backtest report is its owner's, its strategy's account members' and the administrators';
anyone else gets a 404, as if there were no such run."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apps.strategies.models import BacktestRun
from tests.access import desk_make, desk_user
from tests.strategies.backtest_seed import command_output, market_seeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    return desk_make()


def run_make(tmp_path, *, strategy=None, owner=None, name="run") -> BacktestRun:
    report = tmp_path / f"{name}.html"
    report.write_text(f"<h1>Backtest {name}</h1>")
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return BacktestRun.objects.create(
        strategy=strategy,
        owner=owner,
        kind="rsi",
        symbols=["BTC/USDT"],
        timeframe="1m",
        data_start=moment,
        data_end=moment,
        initial_balance=10000,
        data_hash="x",
        code_version="test",
        report_path=str(report),
    )


def report_status(client, user, run) -> int:
    client.force_login(user)
    return client.get(reverse("backtest-report", args=[run.pk])).status_code


def test_the_owner_opens_its_report_without_being_staff(client, tmp_path):
    owner = desk_user("researcher", role=None, staff=False)

    assert report_status(client, owner, run_make(tmp_path, owner=owner)) == 200


def test_a_member_of_the_strategys_account_opens_its_report_and_a_stranger_gets_a_404(client, desk, tmp_path):
    run = run_make(tmp_path, strategy=desk.ours.strategy)
    member = desk_user("viewer", role="viewer", accounts=[desk.ours.account])
    stranger = desk_user("other", role="trader", accounts=[desk.theirs.account])

    assert report_status(client, member, run) == 200
    assert report_status(client, stranger, run) == 404


def test_a_research_run_of_no_strategy_is_the_owners_and_the_admins(client, desk, tmp_path):
    run = run_make(tmp_path, owner=desk_user("researcher", role=None, staff=False))

    assert report_status(client, desk_user("boss", role="admin"), run) == 200
    assert report_status(client, desk_user("viewer", role="viewer", accounts=[desk.ours.account]), run) == 404


def test_the_admin_lists_only_the_runs_a_user_may_open_and_another_is_a_404(client, desk, tmp_path):
    ours = run_make(tmp_path, strategy=desk.ours.strategy, name="ours")
    theirs = run_make(tmp_path, strategy=desk.theirs.strategy, name="theirs")
    client.force_login(desk_user("viewer", role="viewer", accounts=[desk.ours.account]))

    listed = client.get(reverse("admin:strategies_backtestrun_changelist")).context["cl"].result_list

    assert list(listed) == [ours]
    assert client.get(reverse("admin:strategies_backtestrun_change", args=[theirs.pk])).status_code == 404


def test_the_backtest_command_records_who_ran_it(tmp_path):
    owner = desk_user("researcher", role=None, staff=False)
    market_seeded(symbols=("BTC/USDT",), days=1, timeframes="1m")

    command_output(
        "backtest",
        "--no-progress",
        "--strategy",
        "rsi",
        "--symbol",
        "BTC/USDT",
        "--output",
        str(tmp_path),
        "--owner",
        "researcher",
    )

    assert BacktestRun.objects.get().owner == owner


def test_an_unknown_owner_is_refused_before_anything_runs(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="there is no user 'nobody'"):
        command_output("backtest", "--no-progress", "--strategy", "rsi", "--symbol", "BTC/USDT", "--owner", "nobody")
    assert not BacktestRun.objects.exists()
