"""The OpenAPI schema is valid, the docs pages load only local scripts, and every GET endpoint,
fuzzed by schemathesis as a trader's token, answers without a 5xx and as its schema says."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_a_warning():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)

    assert '"/api/v1/positions/{id}/close/"' in out.getvalue()


def test_the_schema_documents_the_error_shape_and_the_idempotency_key(client):
    schema = client.get("/api/schema/?format=json").json()

    close = schema["paths"]["/api/v1/positions/{id}/close/"]["post"]
    assert {"400", "403", "404", "409", "422", "429"} <= set(close["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in close["parameters"]}
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_their_scripts_from_the_desk_not_a_cdn(client, page):
    html = client.get(page).content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    scripts = [source for source in sources if source.endswith((".js", ".css"))]
    assert scripts and all(source.startswith("/static/") for source in scripts), sources
    assert "cdn" not in html.lower()
    for script in scripts:
        assert client.get(script).status_code == 200, script


@pytest.fixture
def wsgi_in_the_test_transaction():
    """Django closes "old" connections around each request; inside a test's transaction that
    would drop the test's data, so the requests schemathesis makes keep the connection (as
    Django's own test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@override_settings(API_THROTTLE_RATES={"sustained": "100000/min", "burst": "100000/s", "commands": "100000/min"})
def test_every_get_endpoint_fuzzed_as_a_trader_answers_as_its_schema_says(desk, trader_user, wsgi_in_the_test_transaction):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_in_the_test_transaction)
    headers = {"Authorization": f"Bearer {token_for(trader_user, 'trade')}"}
    operations = [result.ok() for result in schema.get_all_operations() if result.ok().method.upper() == "GET"]
    assert len(operations) >= 28

    for operation in operations:

        @settings(max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def answers_per_schema(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        answers_per_schema()


def test_the_fuzzed_trader_really_reads_data(desk, trader_user):
    """The fuzz above is only worth something if the trader's lists are not empty."""
    trader = client_with(token_for(trader_user, "trade"))
    for resource in ("orders", "positions", "signals", "strategies", "kill-switches", "portfolio-snapshots"):
        assert trader.get(f"/api/v1/{resource}/").json()["results"], resource


def test_the_docs_describe_the_event_socket_with_a_token_and_every_event_kind(client):
    from apps.common.events import KINDS

    description = client.get("/api/schema/?format=json").json()["info"]["description"]

    assert "/ws/events/?token=<key>" in description and "4401" in description
    for kind in KINDS:
        assert f"| `{kind.name}` |" in description
