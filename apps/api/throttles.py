"""Per token (or per user on a session): sustained and burst rates on every request, and a
tighter rate on commands. Rates come from settings.API_THROTTLE_RATES (env), read at each
request so that they can be changed without a restart of the class."""

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

from apps.api.models import ApiToken


class _DeskThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        self.rate = self.get_rate()  # the rate in force now, not at import
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user{request.user.pk}"
        else:
            ident = f"ip{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SustainedThrottle(_DeskThrottle):
    scope = "sustained"


class BurstThrottle(_DeskThrottle):
    scope = "burst"


class CommandThrottle(_DeskThrottle):
    scope = "commands"

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
