"""Every write endpoint of the API (POST, PUT, PATCH, DELETE, walked from the URL conf as the
schema is) takes an Idempotency-Key through the one mechanism (apps.api.idempotency), and the
schema says so: a script may retry any write safely. A new write endpoint that forgets it
fails here."""

import re

import pytest
from drf_spectacular.generators import EndpointEnumerator

from apps.api.idempotency import HEADER

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def write_endpoints() -> list[tuple[str, str]]:
    return sorted((method, path) for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints() if method in WRITES)


def test_the_walk_finds_the_write_endpoints_of_every_resource():
    found = write_endpoints()

    assert len(found) >= 25
    assert ("PATCH", "/api/v1/alert-rules/{pk}/") in found and ("DELETE", "/api/v1/goals/{pk}/") in found
    assert ("POST", "/api/v1/positions/{pk}/close/") in found and ("POST", "/api/v1/backtests/") in found


def test_the_schema_documents_the_idempotency_key_on_every_write(client):
    schema = client.get("/api/schema/?format=json").json()

    undocumented = [
        (method, path)
        for method, path in write_endpoints()
        if HEADER not in {p["name"] for p in schema["paths"][path.replace("{pk}", "{id}")][method.lower()].get("parameters", [])}
    ]

    assert undocumented == []


@pytest.fixture
def superuser_api(django_user_model, settings):
    settings.API_THROTTLE_RATES = {"sustained": "10000/min", "burst": "10000/s", "commands": "10000/min"}
    boss = django_user_model.objects.create_superuser("boss", password="correct-horse-battery")
    return client_with(token_for(boss, "admin"))


@pytest.mark.parametrize("method,path", write_endpoints())
def test_every_write_hands_its_idempotency_key_to_the_one_mechanism_before_it_acts(superuser_api, method, path):
    """A key no mechanism accepts (longer than 255) is refused by apps.api.idempotency before
    the view looks anything up: an endpoint that bypasses it answers otherwise (a 404 of the
    missing object, a 422 of the empty body, a 201)."""
    url = re.sub(r"\{\w+\}", "999999", path)

    response = superuser_api.generic(method, url, "{}", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400, (method, url, response.content[:300])
    assert HEADER in response.json()["error"]["fields"]
