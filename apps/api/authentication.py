"""`Authorization: Bearer <key>`: the request acts as the token's user; `request.auth` is the token."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.api.tokens import api_token_for_key


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: session authentication may answer
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be `Bearer <key>`, one key.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key has characters no key has.") from None
        token = api_token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or expired API key, or its user is disabled.")
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword  # makes a missing or bad key a 401 with WWW-Authenticate


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API token: `manage.py api_token create`"}
