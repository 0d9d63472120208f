"""ASGI entry point of the shop: mediakit's handler streams uploads (run with SHOP_ASYNC=1)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ.setdefault("SHOP_ASYNC", "1")

from mediakit_django.asgi import get_asgi_application

application = get_asgi_application()
