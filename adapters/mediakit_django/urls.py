"""``path("", include("mediakit_django.urls"))``: the whole HTTP API.

Sync views (WSGI) by default, async views (ASGI) when ``MEDIAKIT["ASYNC_VIEWS"]`` is
true; :mod:`mediakit_django.urls_sync` and :mod:`mediakit_django.urls_async` choose
explicitly. The URL names live in the ``mediakit`` namespace
(``reverse("mediakit:proxy", kwargs={"media_id": ...})``).
"""

from __future__ import annotations

from mediakit_django import conf
from mediakit_django.views import build_urlpatterns

app_name = "mediakit"
urlpatterns = build_urlpatterns(asynchronous=bool(conf.adapter_options()["ASYNC_VIEWS"]))
