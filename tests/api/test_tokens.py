"""Tokens: made by the command (the key printed once), stored as a hash, revoked, expiring."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import api_token_create, api_token_for_key
from apps.common.models import AuditEntry
from tests.access import desk_user

from .conftest import client_with

pytestmark = pytest.mark.django_db


def create(*args) -> str:
    out = StringIO()
    call_command("api_token", "create", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_the_command_prints_a_key_once_and_the_database_holds_only_its_hash(desk):
    desk_user("tom", role="trader", accounts=[desk.ours.account])

    key = create("--user", "tom", "--scope", "trade", "--expires-days", "30")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        [row] = cursor.fetchall()
    assert key.startswith("td_") and not any(key in str(column) for column in row)
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.expires_at - timezone.now() > timedelta(days=29)
    assert client_with(key).get("/api/v1/accounts/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert AuditEntry.objects.filter(action="api_token.create", via="command").exists()


def test_a_revoked_or_expired_token_no_longer_opens_the_api(desk):
    desk_user("tom", role="trader", accounts=[desk.ours.account])
    revoked, expired = create("--user", "tom", "--scope", "read"), create("--user", "tom", "--scope", "read")
    first, second = ApiToken.objects.order_by("pk")

    call_command("api_token", "revoke", str(first.pk), stdout=StringIO())
    ApiToken.objects.filter(pk=second.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client_with(revoked).get("/api/v1/accounts/").status_code == 401
    assert client_with(expired).get("/api/v1/accounts/").status_code == 401


def test_a_disabled_user_s_token_opens_nothing(desk):
    user = desk_user("tom", role="trader", accounts=[desk.ours.account])
    key = create("--user", "tom", "--scope", "read")
    user.is_active = False
    user.save()

    assert client_with(key).get("/api/v1/accounts/").status_code == 401


def test_an_unknown_user_or_scope_is_a_clear_command_error(desk):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        create("--user", "nobody", "--scope", "read")
    with pytest.raises(CommandError):
        create("--user", "nobody", "--scope", "root")


def test_the_token_found_for_a_key_is_the_orms_row_with_its_user(desk):
    user = desk_user("tina", role="trader", accounts=[desk.ours.account])
    new = api_token_create(actor=None, user=user, name="bot", scope="trade", expires_days=30, via="command")

    found = api_token_for_key(new.key)

    expected = ApiToken.objects.select_related("user").get(pk=new.token.pk)
    fields = [field.attname for field in ApiToken._meta.concrete_fields]
    user_fields = [field.attname for field in User._meta.concrete_fields]
    assert [getattr(found, name) for name in fields if name != "last_used_at"] == [
        getattr(expected, name) for name in fields if name != "last_used_at"
    ]
    assert [getattr(found.user, name) for name in user_fields] == [getattr(expected.user, name) for name in user_fields]
    assert found.expires_at.tzinfo is not None and found.user.groups.filter(name="trader").exists()
    assert api_token_for_key(new.key[:-1] + ("x" if new.key[-1] != "x" else "y")) is None
