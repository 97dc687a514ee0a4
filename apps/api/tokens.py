"""Personal API tokens: made (the key shown once), revoked, and checked on each request.

A key is `td_<prefix>_<secret>`: the prefix finds the row, the sha256 of the whole key is
compared in constant time. The keys are random (256 bits), so a fast hash is as safe as a slow
one here and costs nothing per request."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from apps.api.models import ApiToken
from apps.common.audit import audit_record
from apps.common.errors import Invalid, NotFound

KEY_PREFIX = "td_"
# last_used_at is written at most this often: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass
class NewToken:
    token: ApiToken
    key: str  # shown once, never stored


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, actor, user, name: str, scope: str, expires_days: int | None = None, via: str | None = None) -> NewToken:
    errors = {}
    if scope not in ApiToken.Scope.values:
        errors["scope"] = f"choose one of {', '.join(ApiToken.Scope.values)} (not {scope!r})"
    if expires_days is not None and not 0 < expires_days <= 3650:
        errors["expires_days"] = "between 1 and 3650 days"
    if not name.strip():
        errors["name"] = "say what the token is for"
    if errors:
        raise Invalid.from_fields(errors)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}{prefix}_{secret}"
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip()[:80], scope=scope, prefix=prefix, key_hash=key_hash(key), expires_at=expires_at
        )
        audit_record(
            actor=actor,
            via=via,
            action="api_token.create",
            obj=token,
            after={"user": user.get_username(), "scope": scope, "expires_at": expires_at},
        )
    return NewToken(token=token, key=key)


def api_token_revoke(*, actor, token_id: int, via: str | None = None) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None:
            raise NotFound(f"no API token #{token_id}")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=actor, via=via, action="api_token.revoke", obj=token, after={"revoked_at": token.revoked_at})
    return token


def api_token_for_key(key: str) -> ApiToken | None:
    """The usable token of this key (its user active), or None; marks it used."""
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    token = _token_with_user(prefix)
    if token is None or not hmac.compare_digest(token.key_hash, key_hash(key)):
        return None
    if api_token_end_reason(token) is not None:
        return None
    _mark_used(token)
    return token


def _token_with_user(prefix: str) -> ApiToken | None:
    """`ApiToken.objects.select_related("user").filter(prefix=prefix).first()`, on every API
    request: the same row and the same objects, from SQL written once per process (the ORM
    compiled that query anew each time, most of a cached page's time). PostgreSQL gives each
    column as its field holds it; other databases take the ORM's way (it converts their values)."""
    if connection.vendor != "postgresql":
        return ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        _TOKEN_SQL = _token_sql()
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    user_model = get_user_model()
    token_fields = [field.attname for field in ApiToken._meta.concrete_fields]
    token = ApiToken.from_db(connection.alias, token_fields, row[: len(token_fields)])
    token.user = user_model.from_db(
        connection.alias, [field.attname for field in user_model._meta.concrete_fields], row[len(token_fields) :]
    )
    return token


_TOKEN_SQL = None


def _token_sql() -> str:
    quote = connection.ops.quote_name
    user_model = get_user_model()
    tokens, users = quote(ApiToken._meta.db_table), quote(user_model._meta.db_table)
    columns = [f"{tokens}.{quote(field.column)}" for field in ApiToken._meta.concrete_fields]
    columns += [f"{users}.{quote(field.column)}" for field in user_model._meta.concrete_fields]
    user_id = quote(ApiToken._meta.get_field("user").column)
    return (
        f"SELECT {', '.join(columns)} FROM {tokens} INNER JOIN {users} ON ({tokens}.{user_id} = {users}.{quote(user_model._meta.pk.column)}) "
        f"WHERE {tokens}.{quote(ApiToken._meta.get_field('prefix').column)} = %s LIMIT 1"
    )


def api_token_end_reason(token: ApiToken | None) -> str | None:
    """Why the token may no longer be used (revoked, expired, its user disabled), or None."""
    if token is None or token.revoked_at is not None:
        return "API token revoked"
    if not token.is_usable():
        return "API token expired"
    if not token.user.is_active:
        return "API token's user disabled"
    return None


def _mark_used(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def user_by_name(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user
