"""Builders for repository test rows: valid defaults, override the fields that matter."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from mediakit.models import Image, MusicSet, ProcessingStatus, Rendition, Track, new_id

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
"""A fixed base time; rows built without ``created_at`` get increasing times after it."""

_tick = itertools.count(1)


def _stamp() -> datetime:
    return T0 + timedelta(seconds=next(_tick))


def image(**kw: object) -> Image:
    """An :class:`Image` with every required field filled."""
    image_id = str(kw.pop("id", new_id()))
    at = kw.pop("created_at", None) or _stamp()
    values: dict[str, object] = {
        "id": image_id,
        "original_key": f"images/{image_id}/original",
        "filename": "photo.jpg",
        "content_type": "image/jpeg",
        "size": 1234,
        "created_at": at,
        "updated_at": at,
    }
    values.update(kw)
    return Image(**values)  # type: ignore[arg-type]


def music_set(**kw: object) -> MusicSet:
    """A :class:`MusicSet` with every required field filled."""
    at = kw.pop("created_at", None) or _stamp()
    values: dict[str, object] = {
        "id": new_id(),
        "title": "A set",
        "created_at": at,
        "updated_at": at,
    }
    values.update(kw)
    return MusicSet(**values)  # type: ignore[arg-type]


def track(set_id: str, **kw: object) -> Track:
    """A :class:`Track` of ``set_id`` with every required field filled."""
    track_id = str(kw.pop("id", new_id()))
    at = kw.pop("created_at", None) or _stamp()
    values: dict[str, object] = {
        "id": track_id,
        "set_id": set_id,
        "original_key": f"music/{set_id}/{track_id}/original",
        "filename": "song.flac",
        "content_type": "audio/flac",
        "size": 98765,
        "created_at": at,
        "updated_at": at,
    }
    values.update(kw)
    return Track(**values)  # type: ignore[arg-type]


def thumbs(image_id: str) -> tuple[Rendition, ...]:
    """Two thumbnails for ``image_id``."""
    return (
        Rendition("w320", f"images/{image_id}/w320.webp", "image/webp", 100, 320, 200),
        Rendition("w640", f"images/{image_id}/w640.webp", "image/webp", 300, 640, 400),
    )


def tiers(set_id: str, track_id: str) -> tuple[Rendition, ...]:
    """Two audio renditions for a track."""
    base = f"music/{set_id}/{track_id}"
    return (
        Rendition("high", f"{base}/high.mp3", "audio/mpeg", 5000, bitrate_kbps=320, duration_s=1.5),
        Rendition("low", f"{base}/low.m4a", "audio/mp4", 2000, bitrate_kbps=128, duration_s=1.5),
    )


READY = ProcessingStatus.READY
