"""Typing mistakes that ``mypy --strict`` must reject in a Django project."""

from __future__ import annotations

from mediakit import Principal
from mediakit_django.kit import get_kit


def misuse() -> str:
    """``expires`` is no key of DownloadUrl; ``track_count`` is an int."""
    url = get_kit().service.download_url(Principal("fan"), "set", "track")
    detail = get_kit().service.get_music_set(Principal("fan"), "set")
    print(url["expires"])
    return detail["track_count"]
