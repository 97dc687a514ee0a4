import pytest


@pytest.fixture(autouse=True, scope="session")
def optuna_connections_closed(django_db_setup, django_db_blocker):
    """Optuna's pooled connections to the test database, closed before pytest drops it."""
    yield
    from apps.research.storage import storages_close

    storages_close()
