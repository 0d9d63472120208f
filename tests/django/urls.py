"""URLs of the in-process Django tests: sync views at the root, async ones under /async/."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

handler404 = "mediakit_django.views.json_not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("async/", include("mediakit_django.urls_async", namespace="mediakit-async")),
    path("", include("mediakit_django.urls")),
]
