"""The shop's URLs: its own pages, the admin, and mediakit's API under /media/."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from tests.django.shop.catalog import views


def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness probe."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz),
    path("admin/", admin.site.urls),
    path("media/", include("mediakit_django.urls")),
    path("catalog/", include(views.urlpatterns)),
]
