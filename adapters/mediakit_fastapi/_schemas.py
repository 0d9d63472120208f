"""Pydantic models of the JSON contract: request bodies and responses.

Request models check only JSON types (strictly: ``"true"`` is not a boolean); the field
rules (lengths, trimming) are the service's, so both adapters answer alike. Response
models document OpenAPI; the service's dicts are sent as they are, without re-validation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mediakit.contract import MAX_TITLE, StreamTier

__all__ = [
    "DownloadUrl",
    "ErrorBody",
    "ErrorDetail",
    "ImageList",
    "ImageOut",
    "ImageUpdate",
    "MusicSetCreate",
    "MusicSetDetail",
    "MusicSetList",
    "MusicSetOut",
    "MusicSetUpdate",
    "StreamUrl",
    "TrackList",
    "TrackOrder",
    "TrackOut",
    "TrackUpdate",
    "Visibility",
]

_STRICT = ConfigDict(strict=True)


# --- request bodies -----------------------------------------------------------------


class ImageUpdate(BaseModel):
    """Fields of an image to change; absent or null fields stay as they are."""

    model_config = _STRICT
    title: str | None = Field(None, description=f"At most {MAX_TITLE} characters.")
    description: str | None = None
    visible: bool | None = None


class MusicSetCreate(BaseModel):
    """A new music set."""

    model_config = _STRICT
    title: str = Field(..., description=f"1 to {MAX_TITLE} characters.")
    description: str | None = None
    visible: bool | None = Field(None, description="Default false (hidden).")


class MusicSetUpdate(BaseModel):
    """Fields of a music set to change."""

    model_config = _STRICT
    title: str | None = Field(None, description=f"1 to {MAX_TITLE} characters.")
    description: str | None = None
    visible: bool | None = None


class Visibility(BaseModel):
    """Show (true) or hide (false) an item from users."""

    model_config = _STRICT
    visible: bool


class TrackUpdate(BaseModel):
    """Fields of a track to change."""

    model_config = _STRICT
    title: str | None = Field(None, description=f"At most {MAX_TITLE} characters.")


class TrackOrder(BaseModel):
    """The new order of a set's tracks: exactly its track ids, each once."""

    model_config = _STRICT
    track_ids: list[str]


# --- responses (documentation only) --------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine-readable code and a sentence for people."""

    code: str = Field(..., examples=["not_found"])
    message: str


class ErrorBody(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail


Status = Literal["pending", "processing", "ready", "failed"]


class ImageOut(BaseModel):
    """An image with time-limited URLs of its original and thumbnails."""

    id: str
    title: str
    description: str
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    visible: bool
    status: Status
    failure_reason: str | None
    created_at: str
    updated_at: str
    url: str = Field(..., description="The original, served inline.")
    thumbnails: dict[str, str] = Field(
        ..., description='Size name ("w640") -> URL; {} until ready.'
    )
    expires_at: str = Field(..., description="When the URLs stop working (ISO 8601 UTC).")


class ImageList(BaseModel):
    """A page of images."""

    items: list[ImageOut]
    next_cursor: str | None = None


class TrackOut(BaseModel):
    """A track of a music set and its processing status."""

    id: str
    set_id: str
    position: int
    title: str
    filename: str
    content_type: str
    size: int
    duration_s: float | None
    bitrate_kbps: int | None
    status: Status
    failure_reason: str | None
    qualities: list[StreamTier]
    created_at: str
    updated_at: str


class TrackList(BaseModel):
    """Tracks created by an upload."""

    items: list[TrackOut]


class MusicSetOut(BaseModel):
    """A music set."""

    id: str
    title: str
    description: str
    visible: bool
    created_at: str
    updated_at: str
    track_count: int


class MusicSetDetail(MusicSetOut):
    """A music set with its tracks in order."""

    tracks: list[TrackOut]


class MusicSetList(BaseModel):
    """A page of music sets."""

    items: list[MusicSetOut]
    next_cursor: str | None = None


class StreamUrl(BaseModel):
    """A time-limited URL streaming one quality tier of a track."""

    url: str
    expires_at: str
    quality: str
    content_type: str


class DownloadUrl(BaseModel):
    """A time-limited URL downloading a track's original as an attachment."""

    url: str
    expires_at: str
    filename: str
