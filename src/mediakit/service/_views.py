r"""Pure JSON views: models plus signed URLs -> the dicts of the HTTP contract.

Every adapter serialises these dicts as they are, so FastAPI and Django answer with
the same JSON. Times are ISO 8601 in UTC with a ``Z`` suffix.

The dicts are typed (:class:`ImageView`, :class:`TrackView`, :class:`MusicSetView`,
:class:`PageView`, ...): ``TypedDict`` classes are plain dicts at run time, so the JSON is
unchanged, while mypy checks the keys and value types in an app that calls the service.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Generic, TypedDict, TypeVar, overload

from mediakit.models import Image, MusicSet, Track
from mediakit.service._policy import track_available_tiers
from mediakit.service._ports import SignedUrlLike

__all__ = [
    # the typed JSON values (re-exported by mediakit.service)
    "DownloadUrl",
    "ImageView",
    "MusicSetDetail",
    "MusicSetView",
    "PageView",
    "StreamUrl",
    "TrackView",
    "UploadView",
    # the views
    "download_view",
    "image_view",
    "iso",
    "music_set_view",
    "page_view",
    "stream_view",
    "track_view",
]

T = TypeVar("T")


class ImageView(TypedDict):
    """The contract's Image object: metadata, processing status and signed URLs.

    ``url`` serves the original, ``thumbnails`` maps each thumbnail size name to its URL
    (empty until processing made them), and ``expires_at`` is the earliest expiry of
    those URLs (ISO 8601 UTC).
    """

    id: str
    title: str
    description: str
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    visible: bool
    status: str
    failure_reason: str | None
    created_at: str
    updated_at: str
    url: str
    thumbnails: dict[str, str]
    expires_at: str


class TrackView(TypedDict):
    """The contract's Track object (URLs come from :class:`StreamUrl`/:class:`DownloadUrl`).

    ``qualities`` lists the streaming tiers already encoded, lowest first.
    """

    id: str
    set_id: str
    position: int
    title: str
    filename: str
    content_type: str
    size: int
    duration_s: float | None
    bitrate_kbps: int | None
    status: str
    failure_reason: str | None
    qualities: list[str]
    created_at: str
    updated_at: str


class MusicSetView(TypedDict):
    """The contract's MusicSet object, as listed (no tracks)."""

    id: str
    title: str
    description: str
    visible: bool
    created_at: str
    updated_at: str
    track_count: int


class MusicSetDetail(MusicSetView):
    """A music set with its tracks in order (get, create, update, reorder)."""

    tracks: list[TrackView]


class PageView(TypedDict, Generic[T]):
    """A list response: ``items`` and the cursor of the next page (``None`` on the last)."""

    items: list[T]
    next_cursor: str | None


class UploadView(TypedDict, Generic[T]):
    """An upload's answer: every item created, in upload order."""

    items: list[T]


class StreamUrl(TypedDict):
    """The answer of the stream-URL endpoint: a URL for one quality tier of a track."""

    url: str
    expires_at: str
    quality: str
    content_type: str


class DownloadUrl(TypedDict):
    """The answer of the download-URL endpoint: the original, as an attachment."""

    url: str
    expires_at: str
    filename: str


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
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
) -> ImageView:
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


def track_view(track: Track) -> TrackView:
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


@overload
def music_set_view(music_set: MusicSet, track_count: int, tracks: None = None) -> MusicSetView: ...
@overload
def music_set_view(
    music_set: MusicSet, track_count: int, tracks: Sequence[Track]
) -> MusicSetDetail: ...
def music_set_view(
    music_set: MusicSet, track_count: int, tracks: Sequence[Track] | None = None
) -> MusicSetView | MusicSetDetail:
    """The contract's MusicSet object; with ``tracks`` it is the detail view."""
    view: MusicSetView = {
        "id": music_set.id,
        "title": music_set.title,
        "description": music_set.description,
        "visible": music_set.visible,
        "created_at": iso(music_set.created_at),
        "updated_at": iso(music_set.updated_at),
        "track_count": track_count,
    }
    if tracks is None:
        return view
    return {**view, "tracks": [track_view(t) for t in tracks]}


def page_view(items: Sequence[T], next_cursor: str | None) -> PageView[T]:
    """A list response: ``{"items": [...], "next_cursor": ...}``."""
    return {"items": list(items), "next_cursor": next_cursor}


def stream_view(signed: SignedUrlLike, quality: str, content_type: str) -> StreamUrl:
    """The answer of the stream-URL endpoint."""
    return {
        "url": signed.url,
        "expires_at": iso(signed.expires_at),
        "quality": quality,
        "content_type": content_type,
    }


def download_view(signed: SignedUrlLike, filename: str) -> DownloadUrl:
    """The answer of the download-URL endpoint."""
    return {"url": signed.url, "expires_at": iso(signed.expires_at), "filename": filename}
