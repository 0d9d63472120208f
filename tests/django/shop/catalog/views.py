"""The catalogue's own views."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path


def ping(request: HttpRequest) -> JsonResponse:
    """The shop's own route (untouched by mediakit)."""
    return JsonResponse({"catalog": "ok"})


urlpatterns: list[URLPattern] = [path("ping", ping)]
