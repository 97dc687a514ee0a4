"""Bad input is a 4xx in the one error shape, every bad field named, never a 500."""

import pytest
from django.test import override_settings

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"]
    return error


def test_an_unknown_filter_is_refused_rather_than_ignored(desk, viewer):
    error = error_of(viewer.get("/api/v1/orders/", {"acount": desk.ours.account.pk}), 400)

    assert error["code"] == "invalid" and list(error["fields"]) == ["acount"]
    assert "account" in error["fields"]["acount"][0]


def test_every_bad_filter_is_named_at_once(desk, viewer):
    error = error_of(viewer.get("/api/v1/orders/", {"account": "ours", "status": "lost", "start": "yesterday"}), 400)

    assert set(error["fields"]) == {"account", "status", "start"}


@pytest.mark.parametrize(
    "params",
    [
        {"account": "1\x00"},
        {"client_order_id": "a\x00b"},
        {"account": "9" * 400},
        {"account": "1e400"},
        {"account": "-1"},
        {"ordering": "secret"},
        {"start": "2026-13-45T99:00"},
        {"account": "1.5"},
    ],
)
def test_nul_bytes_huge_numbers_and_wrong_types_in_a_query_are_a_400(desk, viewer, params):
    error_of(viewer.get("/api/v1/orders/", params), 400)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders/99999999999999999999999/", "/api/v1/orders/abc/", "/api/v1/nothing-here/", "/api/v1/orders/?cursor=garbage"],
)
def test_a_path_that_names_nothing_is_a_404_in_the_same_shape(desk, viewer, path):
    assert error_of(viewer.get(path), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"account": "x", "state": "maybe"},
        {"account": 10**30, "state": "halted"},
        {"account": None, "state": "halted", "reason": "a\x00b"},
        {"account": [1], "state": {"nested": True}},
    ],
)
def test_a_command_with_wrong_types_huge_numbers_or_nul_bytes_is_a_400_naming_each_field(desk, trader, body):
    error = error_of(trader.post("/api/v1/kill-switches/set/", body, format="json"), 400)

    assert error["fields"] and set(error["fields"]) <= {"account", "state", "reason"}


def test_a_body_that_is_not_json_is_a_400(desk, trader):
    response = trader.post("/api/v1/kill-switches/set/", "{not json", content_type="application/json")

    assert error_of(response, 400)["code"] == "malformed_request"


def test_a_bad_idempotency_key_is_a_400(desk, trader):
    response = trader.post(
        "/api/v1/kill-switches/set/",
        {"account": desk.ours.account.pk, "state": "halted"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x" * 300,
    )

    assert "Idempotency-Key" in error_of(response, 400)["fields"]


@override_settings(API_THROTTLE_RATES={"sustained": "1000/min", "burst": "3/s", "commands": "1000/min"})
def test_too_many_requests_in_a_burst_are_a_429_with_retry_after(desk, viewer):
    answers = [viewer.get("/api/v1/accounts/") for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert error_of(answers[-1], 429)["code"] == "throttled"


@override_settings(API_THROTTLE_RATES={"sustained": "1000/min", "burst": "1000/s", "commands": "2/min"})
def test_commands_have_their_own_tighter_rate_and_reads_go_on(desk, trader):
    body = {"account": desk.ours.account.pk, "state": "reduce_only"}

    answers = [trader.post("/api/v1/kill-switches/set/", body, format="json") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "Retry-After" in answers[-1].headers
    assert trader.get("/api/v1/kill-switches/").status_code == 200


@override_settings(API_THROTTLE_RATES={"sustained": "2/min", "burst": "1000/s", "commands": "1000/min"})
def test_the_rate_is_per_token(desk, trader_user):
    first, second = client_with(token_for(trader_user, "read")), client_with(token_for(trader_user, "read"))

    assert [first.get("/api/v1/accounts/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/accounts/").status_code == 200


def test_a_post_to_a_path_of_no_endpoint_is_a_json_404_not_the_html_csrf_page(desk):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)

    response = client.post("/api/v1/orders/5.96e-08/cancel/", data="-14", content_type="application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
