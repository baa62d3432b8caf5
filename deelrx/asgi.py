"""The one ASGI application (DESIGN §13): HTTP through Django, WebSocket through
Channels (`deelrx.realtime`: origin check, token or session authentication, the
routes apps register). Served by uvicorn (docker-compose, `make run`)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deelrx.settings")
# Sets Django up (apps ready: their WebSocket routes registered) before the router is built.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from deelrx.realtime import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_application, "websocket": websocket_application()})
