"""ASGI entry point: HTTP through Django, websockets through Channels (a login or an API token)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")
django_asgi_app = get_asgi_application()

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
