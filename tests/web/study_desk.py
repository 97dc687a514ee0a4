"""A desk with an account, its configured ema_cross strategy on a seeded hourly market, the
people who may or may not see its studies, and studies stepped as a research worker steps them."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from apps.exchanges.models import ExchangeAccount
from apps.exchanges.roles import role_groups_ensure
from apps.markets.models import Market
from apps.research import studies
from apps.research.models import Study
from apps.research.studies import study_create, study_trial_step
from apps.strategies.backtests.plan import BacktestRequest
from apps.strategies.models import Strategy
from tests.access import desk_user
from tests.research.study_support import ema_study_request, hourly_market_seeded
from tests.trading.factories import account_make, strategy_make


@dataclass
class StudyDesk:
    account: ExchangeAccount
    strategy: Strategy
    viewer: User  # a member of the account
    stranger: User  # a trader of another account
    admin: User  # an administrator, member of no account


@pytest.fixture(autouse=True, scope="module")
def optuna_connections_closed(django_db_setup, django_db_blocker):
    """Optuna's pooled connections to the test database, closed before pytest drops it."""
    yield
    from apps.research.storage import storages_close

    storages_close()


def study_desk_make() -> StudyDesk:
    role_groups_ensure()
    hourly_market_seeded()
    account = account_make(name="research")
    strategy = strategy_make(
        account=account,
        markets=[Market.objects.get(symbol="BTC/USDT")],
        name="Trend BTC",
        kind="ema_cross",
        timeframe="1h",
        allocation=Decimal("1000"),
        status=Strategy.Status.STOPPED,
    )
    other = account_make(name="other")
    return StudyDesk(
        account=account,
        strategy=strategy,
        viewer=desk_user("victor", role="viewer", accounts=[account], staff=False),
        stranger=desk_user("sam", role="trader", accounts=[other], staff=False),
        admin=desk_user("ada", role="admin", staff=False),
    )


def strategy_study(desk: StudyDesk, *, trials: int = 6, **changes) -> Study:
    """A study of the configured strategy (its account's members see it)."""
    backtest = BacktestRequest(strategy=str(desk.strategy.pk), symbols=["BTC/USDT"], timeframe="1h")
    return study_create(ema_study_request(trials=trials, backtest=backtest, **changes))


def trials_run(study: Study, count: int) -> None:
    for _ in range(count):
        assert study_trial_step(study.pk) == studies.RAN


def study_run_out(study: Study) -> None:
    while study_trial_step(study.pk) != studies.DONE:
        pass
