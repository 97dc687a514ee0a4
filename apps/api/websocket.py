"""An API token on the event socket (/ws/events/) for integrations: `?token=<key>` or an
`Authorization: Bearer <key>` header. The socket then acts as the token's user, with exactly
the account filtering a logged-in page gets (apps.web.selectors.topics_authorize). The socket
only reads, so every scope (read, trade, admin) may subscribe; a scope never widens what the
user sees. A token given but unknown, revoked or expired makes the socket anonymous (closed with
4401), never the session's user: a script must learn its key is wrong. A token revoked or expiring
while its socket is open closes it the same way (4401, the reason in words): the consumer asks
the `credential` this middleware puts in the scope before it sends (apps.web.consumers)."""

from datetime import datetime
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import api_token_end_reason, api_token_for_key


class TokenCredential:
    """What an open socket rechecks: its token still usable. `may_have_ended` costs nothing (the
    expiry last read has passed); `ended` reads the token again, one query: why it may no longer be
    used (revoked, expired, its user disabled), or None."""

    def __init__(self, token: ApiToken):
        self.token_id = token.pk
        self.expires_at: datetime | None = token.expires_at

    def may_have_ended(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def ended(self) -> str | None:
        token = ApiToken.objects.select_related("user").filter(pk=self.token_id).first()
        self.expires_at = token.expires_at if token else None
        return api_token_end_reason(token)


def _key_of(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if "token" in query:  # even empty: a token was meant
        return query["token"][0]
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            kind, _, key = value.decode("latin-1").partition(" ")
            if kind.lower() == "bearer":
                return key.strip()
    return None


class ApiTokenSocketMiddleware:
    """Inside AuthMiddlewareStack: a token, when given, decides the socket's user."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = _key_of(scope)
        if key is not None:
            token = await database_sync_to_async(api_token_for_key)(key)
            scope = {
                **scope,
                "user": token.user if token else AnonymousUser(),
                "api_token": token,
                "credential": TokenCredential(token) if token else None,
            }
        return await self.inner(scope, receive, send)
