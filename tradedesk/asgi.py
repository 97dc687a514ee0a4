"""ASGI entry point: HTTP through Django, websockets through Channels (a login or an API token)."""

import gc
import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")


class DeskASGIHandler(ASGIHandler):
    """Django's ASGI handler, the middleware and the views run as under WSGI: in one hop to the
    sync thread per request. Django's own adapts each middleware to the mode it can run in; ours
    mix sync-only ones (ours, axes) with ones that can run both ways (Django's, Prometheus'),
    so a request crossed between the event loop and the sync thread a dozen times, each crossing
    a thread switch and a wait for the GIL: some 5 ms of CPU per request, more than a page from
    the cache costs. The views are sync (an async view would be run by async_to_sync)."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django.setup(set_prefix=False)
django_asgi_app = DeskASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - Django is set up first: these import models
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - Django is set up first: these import models
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402 - Django is set up first: these import models

from apps.api.websocket import ApiTokenSocketMiddleware  # noqa: E402 - Django is set up first: these import models
from apps.web.routing import websocket_urlpatterns  # noqa: E402 - Django is set up first: these import models

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(ApiTokenSocketMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)

# What is loaded by now (Django, the apps, the URL conf: some 270,000 objects) lives as long as
# the process. Frozen out of the garbage collector's sight, a request that allocates many
# objects (a year of hourly snapshots, 100 orders) no longer pays for walking all of them
# again in each full collection: that walk was a third of the performance page's time.
gc.freeze()
