"""ASGI entry point (uvicorn): ``examples.django_server.asgi:application``.

:class:`mediakit_django.asgi.MediakitASGIHandler` streams uploads to the views instead
of spooling them like Django's default handler.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_server.settings")

from mediakit_django.asgi import get_asgi_application

application = get_asgi_application()
