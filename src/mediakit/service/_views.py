"""Pure JSON views: models plus signed URLs -> the dicts of the HTTP contract.

Every adapter serialises these dicts as they are, so FastAPI and Django answer with
the same JSON. Times are ISO 8601 in UTC with a ``Z`` suffix.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mediakit.models import Image, MusicSet, Track
from mediakit.service._policy import track_available_tiers
from mediakit.service._ports import SignedUrlLike

__all__ = [
    "download_view",
    "image_view",
    "iso",
    "music_set_view",
    "page_view",
    "stream_view",
    "track_view",
]

JSON = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 UTC (``2026-01-02T03:04:05Z``), or ``None``."""
    return None if moment is None else _iso(moment)


@functools.lru_cache(maxsize=8192)
def _iso(moment: datetime) -> str:
    # Memoised: formatting costs ~1.5 µs and a page of 100 images formats 300 times,
    # mostly the same instants on every request (creation and update times, the one
    # expiry of a signing window): a hit costs ~0.1 µs. Equal keys are the same
    # instant (or the same naive time), and so give the same text.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def image_view(
    image: Image, original: SignedUrlLike, thumbnails: Mapping[str, SignedUrlLike]
) -> JSON:
    """The contract's Image object."""
    expiries = [original.expires_at, *(s.expires_at for s in thumbnails.values())]
    return {
        "id": image.id,
        "title": image.title,
        "description": image.description,
        "filename": image.filename,
        "content_type": image.content_type,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "visible": image.visible,
        "status": str(image.status),
        "failure_reason": image.failure_reason,
        "created_at": iso(image.created_at),
        "updated_at": iso(image.updated_at),
        "url": original.url,
        "thumbnails": {name: s.url for name, s in thumbnails.items()},
        "expires_at": iso(min(expiries)),
    }


def track_view(track: Track) -> JSON:
    """The contract's Track object (no URLs: those come from the stream endpoints)."""
    return {
        "id": track.id,
        "set_id": track.set_id,
        "position": track.position,
        "title": track.title,
        "filename": track.filename,
        "content_type": track.content_type,
        "size": track.size,
        "duration_s": track.duration_s,
        "bitrate_kbps": track.bitrate_kbps,
        "status": str(track.status),
        "failure_reason": track.failure_reason,
        "qualities": track_available_tiers(track),
        "created_at": iso(track.created_at),
        "updated_at": iso(track.updated_at),
    }


def music_set_view(
    music_set: MusicSet, track_count: int, tracks: Sequence[Track] | None = None
) -> JSON:
    """The contract's MusicSet object; with ``tracks`` it is the detail view."""
    view: JSON = {
        "id": music_set.id,
        "title": music_set.title,
        "description": music_set.description,
        "visible": music_set.visible,
        "created_at": iso(music_set.created_at),
        "updated_at": iso(music_set.updated_at),
        "track_count": track_count,
    }
    if tracks is not None:
        view["tracks"] = [track_view(t) for t in tracks]
    return view


def page_view(items: Sequence[JSON], next_cursor: str | None) -> JSON:
    """A list response: ``{"items": [...], "next_cursor": ...}``."""
    return {"items": list(items), "next_cursor": next_cursor}


def stream_view(signed: SignedUrlLike, quality: str, content_type: str) -> JSON:
    """The answer of the stream-URL endpoint."""
    return {
        "url": signed.url,
        "expires_at": iso(signed.expires_at),
        "quality": quality,
        "content_type": content_type,
    }


def download_view(signed: SignedUrlLike, filename: str) -> JSON:
    """The answer of the download-URL endpoint."""
    return {"url": signed.url, "expires_at": iso(signed.expires_at), "filename": filename}
