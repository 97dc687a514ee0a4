from decimal import Decimal

import pytest


@pytest.fixture(autouse=True, scope="session")
def optuna_connections_closed(django_db_setup, django_db_blocker):
    """Optuna's pooled connections to the test database, closed before pytest drops it."""
    yield
    from apps.research.storage import storages_close

    storages_close()


@pytest.fixture
def live_as_backtested(monkeypatch):
    """Paper trades booked without candles cannot be set beside a backtest: their divergence is
    taken as 1 % of the allocation (the rule on a real paper day: test_live_vs_backtest.py)."""
    monkeypatch.setattr("apps.research.promotion.divergence", lambda strategy, *, since, until: Decimal("0.01"))
