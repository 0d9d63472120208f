"""The shop's own view, over mediakit's typed service values."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from mediakit import Principal
from mediakit.service import MusicSetView, PageView
from mediakit_django.kit import get_kit


def titles(page: PageView[MusicSetView]) -> list[str]:
    """The titles of a page of music sets."""
    return [s["title"] for s in page["items"]]


def catalogue(request: HttpRequest) -> JsonResponse:
    """Every visible music set's title and track count, as a visitor sees them."""
    page = get_kit().service.list_music_sets(Principal("visitor"))
    counts: dict[str, int] = {s["title"]: s["track_count"] for s in page["items"]}
    return JsonResponse({"titles": titles(page), "counts": counts})
