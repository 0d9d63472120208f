"""Typing mistakes that ``mypy --strict`` must reject (a misspelled key, a wrong type)."""

from __future__ import annotations

from mediakit import Principal
from mediakit.service import MediaService


def misuse(service: MediaService) -> int:
    """Two errors: ``titel`` is no key of MusicSetView, and ``title`` is a str."""
    page = service.list_music_sets(Principal("bob"))
    first = page["items"][0]
    print(first["titel"])
    return first["title"]
