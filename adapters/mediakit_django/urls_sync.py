"""``include("mediakit_django.urls_sync")``: the HTTP API as sync views (WSGI)."""

from __future__ import annotations

from mediakit_django.views import build_urlpatterns

app_name = "mediakit"
urlpatterns = build_urlpatterns(asynchronous=False)
