"""The API's people: members of account "ours" (never of "theirs"), each with a token."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.api.tokens import api_token_create
from tests.access import desk_make, desk_user


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def desk(db):
    return desk_make()


def token_for(user, scope: str) -> str:
    return api_token_create(actor=None, user=user, name=f"{user.username} {scope}", scope=scope, via="command").key


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def viewer(desk):
    return client_with(token_for(desk_user("vera", role="viewer", accounts=[desk.ours.account]), "read"))


@pytest.fixture
def trader_user(desk):
    return desk_user("tom", role="trader", accounts=[desk.ours.account])


@pytest.fixture
def trader(trader_user):
    return client_with(token_for(trader_user, "trade"))
