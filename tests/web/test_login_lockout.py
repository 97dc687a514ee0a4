"""Login throttling (django-axes): repeated wrong passwords lock that username from that address out
of every login form, with a page saying when to retry; an administrator can unlock at once."""

import re

import pytest
from django.core.management import call_command

from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_PASSWORD = "admin-horse-battery-staple"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Dozens of logins per test: a cheap hasher keeps them quick (the lockout does not depend on it)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(username="boss", email="", password=ADMIN_PASSWORD)


def wrong_passwords(client, url: str, username: str, times: int) -> None:
    for attempt in range(times):
        client.post(url, {"username": username, "password": f"guess-{attempt}"})


def test_twenty_wrong_passwords_lock_the_login_and_then_the_right_one_is_refused(client, trader):
    wrong_passwords(client, "/accounts/login/", "trader", 20)

    response = client.post("/accounts/login/", {"username": "trader", "password": PASSWORD})

    assert response.status_code == 429
    page = response.content.decode()
    assert "Login locked for now" in page
    assert "5 wrong passwords in a row for <strong>trader</strong>" in page
    assert re.search(r"Try again after <strong>\d\d:\d\d UTC</strong> \(in 15 minutes\)", page)
    assert "_auth_user_id" not in client.session


def test_the_admin_login_locks_out_the_same_way(client, admin_user):
    wrong_passwords(client, "/admin/login/", "boss", 20)

    response = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": ADMIN_PASSWORD})

    assert response.status_code == 429
    assert "Login locked for now" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_the_limit_and_the_cool_off_come_from_the_settings(client, trader, settings):
    settings.AXES_FAILURE_LIMIT = 3
    wrong_passwords(client, "/accounts/login/", "trader", 2)
    assert client.post("/accounts/login/", {"username": "trader", "password": PASSWORD}).status_code == 302
    client.logout()

    wrong_passwords(client, "/accounts/login/", "trader", 3)

    assert client.post("/accounts/login/", {"username": "trader", "password": PASSWORD}).status_code == 429


def test_a_lockout_from_one_address_leaves_the_trader_free_to_log_in_from_another(client, trader):
    wrong_passwords(client, "/accounts/login/", "trader", 20)

    response = client.post("/accounts/login/", {"username": "trader", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 302


def test_an_administrator_unlocks_a_locked_user_with_axes_reset_username(client, trader):
    wrong_passwords(client, "/accounts/login/", "trader", 20)
    assert client.post("/accounts/login/", {"username": "trader", "password": PASSWORD}).status_code == 429

    call_command("axes_reset_username", "trader")

    response = client.post("/accounts/login/", {"username": "trader", "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(trader.pk)


def test_an_administrator_unlocks_from_the_admin_by_deleting_the_access_attempt(client, trader, admin_user):
    from axes.models import AccessAttempt

    wrong_passwords(client, "/accounts/login/", "trader", 6)
    attempt = AccessAttempt.objects.get(username="trader")
    admin = client.__class__()
    admin.force_login(admin_user)
    assert b"trader" in admin.get("/admin/axes/accessattempt/").content

    admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert client.post("/accounts/login/", {"username": "trader", "password": PASSWORD}).status_code == 302
