"""ASGI entry point: HTTP through Django, websockets through Channels (a login or an API token)."""

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
