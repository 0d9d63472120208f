"""``include("mediakit_django.urls_async")``: the HTTP API as async views (ASGI)."""

from __future__ import annotations

from mediakit_django.views import build_urlpatterns

app_name = "mediakit"
urlpatterns = build_urlpatterns(asynchronous=True)
