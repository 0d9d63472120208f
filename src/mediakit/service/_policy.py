"""Pure decisions behind every endpoint: who may see what, which object to serve, how.

No I/O here: each function takes values (a principal, a row, a setting) and returns a
value or raises a :class:`~mediakit.errors.MediaKitError`. Both service twins call
these, so the sync and async paths can never disagree on a rule.

Visibility rule: a hidden item (or a track of a hidden set) is :class:`NotFound` for a
non-admin on every path, with the same message as an absent one, so a user cannot
even learn that it exists. So is an item that is not ``ready`` (pending, processing or
failed: its derivatives are missing and its original may be what processing refused),
and a non-admin never sees ``failure_reason`` (it is written for operators).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlencode

import attrs

from mediakit.contract import (
    MAX_DESCRIPTION,
    MAX_LIMIT,
    MAX_TITLE,
    MIN_LIMIT,
    PROXY_QUALITIES,
    STREAM_TIERS,
)
from mediakit.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from mediakit.http import content_disposition as _content_disposition
from mediakit.models import (
    AUDIO_TIERS,
    AudioTier,
    Image,
    MusicSet,
    Principal,
    ProcessingStatus,
    Track,
)

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_LIMIT",
    "MAX_TITLE",
    "STREAM_TIERS",
    "UPLOAD_FIELDS",
    "ProxyUrl",
    "ServeTarget",
    "can_see",
    "can_see_item",
    "check_listing_limit",
    "check_track_order",
    "check_upload_field",
    "content_disposition",
    "image_changes",
    "image_original_target",
    "image_proxy_target",
    "image_targets",
    "music_set_changes",
    "new_music_set_fields",
    "parse_quality",
    "proxy_query",
    "proxy_url",
    "ready_only",
    "require_admin",
    "see_image",
    "see_images",
    "see_music_set",
    "see_track",
    "see_tracks",
    "track_available_tiers",
    "track_changes",
    "track_download_target",
    "track_proxy_target",
    "track_stream_target",
    "track_upload_changes",
    "upload_changes",
]

_TIER_CONTENT_TYPE = {str(t.tier): t.content_type for t in AUDIO_TIERS}


@attrs.frozen
class ServeTarget:
    """One object to hand out: its key and the response headers it is served with."""

    key: str
    content_type: str
    disposition: str | None
    label: str
    """What was chosen: ``"original"``, a tier (``"medium"``) or a size (``"w640"``)."""


@functools.lru_cache(maxsize=8192)
def content_disposition(filename: str, *, attachment: bool) -> str:
    """:func:`mediakit.http.content_disposition`, memoised: listings ask for the same
    header of the same file names on every page (about 60 µs each uncached)."""
    return _content_disposition(filename, attachment=attachment)


# --- access -------------------------------------------------------------------------


def require_admin(principal: Principal) -> None:
    """Raise :class:`Forbidden` unless ``principal`` is an admin."""
    if not principal.is_admin:
        raise Forbidden("This endpoint is for administrators; sign in with an admin token.")


def can_see(principal: Principal, visible: bool) -> bool:
    """Whether ``principal`` may see an item whose visibility is ``visible``."""
    return visible or principal.is_admin


def ready_only(principal: Principal) -> bool:
    """Whether ``principal`` sees only ``ready`` items (everyone but admins)."""
    return not principal.is_admin


def can_see_item(principal: Principal, item: Image | Track) -> bool:
    """Whether ``principal`` may see an item in its processing state (admins: any state)."""
    return principal.is_admin or item.status is ProcessingStatus.READY


_ItemT = TypeVar("_ItemT", Image, Track)


def _for_viewer(principal: Principal, item: _ItemT) -> _ItemT:
    """``item`` as ``principal`` may see it: without ``failure_reason`` for non-admins."""
    if principal.is_admin or item.failure_reason is None:
        return item
    return attrs.evolve(item, failure_reason=None)


def see_image(principal: Principal, image: Image | None, image_id: str) -> Image:
    """The image if ``principal`` may see it; :class:`NotFound` if absent, hidden or
    (for non-admins) not ``ready``."""
    if image is None or not can_see(principal, image.visible) or not can_see_item(principal, image):
        raise NotFound(f"There is no image with id {image_id!r}.")
    return _for_viewer(principal, image)


def see_images(principal: Principal, images: Sequence[Image]) -> list[Image]:
    """The images of a listing as ``principal`` may see them (no ``failure_reason``)."""
    return [_for_viewer(principal, i) for i in images]


def see_tracks(principal: Principal, tracks: Sequence[Track]) -> list[Track]:
    """The tracks of a set ``principal`` may see: for non-admins the ``ready`` ones only,
    without ``failure_reason`` (the repository already filtered with :func:`ready_only`;
    this is the same rule applied to the rows it returned)."""
    return [_for_viewer(principal, t) for t in tracks if can_see_item(principal, t)]


def see_music_set(principal: Principal, music_set: MusicSet | None, set_id: str) -> MusicSet:
    """The set if ``principal`` may see it; :class:`NotFound` if absent or hidden."""
    if music_set is None or not can_see(principal, music_set.visible):
        raise NotFound(f"There is no music set with id {set_id!r}.")
    return music_set


def see_track(
    track: Track | None,
    set_id: str | None,
    track_id: str,
    principal: Principal | None = None,
) -> Track:
    """The track if it exists (in set ``set_id`` when given); :class:`NotFound` otherwise.

    With ``principal``, a track that is not ``ready`` is :class:`NotFound` for a
    non-admin too. The set's visibility is checked separately with :func:`see_music_set`.
    """
    if (
        track is None
        or (set_id is not None and track.set_id != set_id)
        or (principal is not None and not can_see_item(principal, track))
    ):
        raise NotFound(f"There is no track with id {track_id!r} in this music set.")
    return track if principal is None else _for_viewer(principal, track)


def check_listing_limit(limit: int) -> int:
    """A listing's page size over the HTTP API: between :data:`MIN_LIMIT` and
    :data:`MAX_LIMIT`; :class:`UnprocessableEntity` (422) otherwise.

    The API's own bound, checked before a repository is asked; repositories accept any
    positive size (:func:`mediakit.repositories.check_page_size`, a 400 for a direct
    caller passing something else).
    """
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise UnprocessableEntity(
            f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}; got {limit}."
        )
    return limit


# --- field validation ---------------------------------------------------------------


def _text(name: str, value: object, *, min_len: int, max_len: int) -> str:
    if not isinstance(value, str):
        raise UnprocessableEntity(f"{name} must be a string.")
    value = value.strip()
    try:  # a lone surrogate ("\ud800" in JSON) cannot be stored as UTF-8 by any database
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnprocessableEntity(f"{name} must be valid Unicode text.") from None
    if "\x00" in value:  # PostgreSQL refuses NUL in text columns
        raise UnprocessableEntity(f"{name} must not contain NUL characters.")
    if not min_len <= len(value) <= max_len:
        if min_len:
            raise UnprocessableEntity(f"{name} must be {min_len} to {max_len} characters long.")
        raise UnprocessableEntity(f"{name} must be at most {max_len} characters long.")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise UnprocessableEntity(f"{name} must be true or false.")
    return value


def _changes(
    now: datetime,
    title: str | None,
    description: str | None,
    visible: bool | None,
    *,
    title_min: int,
) -> dict[str, object]:
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = _text("title", title, min_len=title_min, max_len=MAX_TITLE)
    if description is not None:
        changes["description"] = _text(
            "description", description, min_len=0, max_len=MAX_DESCRIPTION
        )
    if visible is not None:
        changes["visible"] = _bool("visible", visible)
    if changes:
        changes["updated_at"] = now
    return changes


def image_changes(
    now: datetime,
    *,
    title: str | None = None,
    description: str | None = None,
    visible: bool | None = None,
) -> dict[str, object]:
    """The validated partial update of an image (empty when nothing changes)."""
    return _changes(now, title, description, visible, title_min=0)


def music_set_changes(
    now: datetime,
    *,
    title: str | None = None,
    description: str | None = None,
    visible: bool | None = None,
) -> dict[str, object]:
    """The validated partial update of a music set (a title cannot become empty)."""
    return _changes(now, title, description, visible, title_min=1)


def new_music_set_fields(
    title: object, description: object, visible: object
) -> tuple[str, str, bool]:
    """Validated ``(title, description, visible)`` of a new music set."""
    return (
        _text("title", title, min_len=1, max_len=MAX_TITLE),
        _text(
            "description",
            "" if description is None else description,
            min_len=0,
            max_len=MAX_DESCRIPTION,
        ),
        False if visible is None else _bool("visible", visible),
    )


def track_changes(now: datetime, *, title: str | None = None) -> dict[str, object]:
    """The validated partial update of a track."""
    if title is None:
        return {}
    return {"title": _text("title", title, min_len=0, max_len=MAX_TITLE), "updated_at": now}


def check_track_order(track_ids: Sequence[str]) -> list[str]:
    """A reorder request's ids, refusing duplicates (the repository checks membership)."""
    ids = list(track_ids)
    if len(set(ids)) != len(ids):
        raise UnprocessableEntity("track_ids lists a track more than once.")
    return ids


# --- what to serve ------------------------------------------------------------------


def parse_quality(value: str | None, default: str, *, allow_original: bool = False) -> AudioTier:
    """The audio tier asked for, or the configured ``default`` when none was named.

    Raises :class:`UnprocessableEntity` for anything but ``low``, ``medium``, ``high``
    (and ``original`` where downloads are allowed).
    """
    if value is None or value == "":
        return AudioTier(default)
    allowed: tuple[str, ...] = PROXY_QUALITIES if allow_original else STREAM_TIERS
    if value not in allowed:
        raise UnprocessableEntity(f"quality must be one of {', '.join(allowed)}; got {value!r}.")
    return AudioTier(value)


def track_available_tiers(track: Track) -> list[str]:
    """The streaming tiers a track has encoded, lowest first."""
    names = {r.name for r in track.renditions}
    return [t for t in STREAM_TIERS if t in names]


def track_download_target(track: Track) -> ServeTarget:
    """The original file as an attachment named after the uploaded file."""
    return ServeTarget(
        key=track.original_key,
        content_type=track.content_type,
        disposition=content_disposition(track.filename, attachment=True),
        label="original",
    )


def track_stream_target(track: Track, tier: AudioTier, *, pre_encode: bool = True) -> ServeTarget:
    """The encoded tier ``tier`` of ``track``, served inline.

    :class:`Conflict` (``not_ready``) while that tier is not encoded yet. With
    pre-encoding switched off, the original is streamed instead.
    """
    if tier is AudioTier.ORIGINAL:
        return track_download_target(track)
    rendition = track.rendition(tier)
    if rendition is None:
        if not pre_encode and not track.renditions:
            return ServeTarget(track.original_key, track.content_type, None, "original")
        if track.status is ProcessingStatus.FAILED:
            reason = f" ({track.failure_reason})" if track.failure_reason else ""
            raise Conflict(
                f"Track {track.id!r} could not be encoded{reason}; it has no {tier} stream.",
                code="not_ready",
            )
        raise Conflict(
            f"The {tier} stream of track {track.id!r} is not encoded yet (status "
            f"{track.status}); retry shortly or ask for another quality.",
            code="not_ready",
        )
    content_type = rendition.content_type or _TIER_CONTENT_TYPE.get(str(tier), "audio/mpeg")
    return ServeTarget(rendition.key, content_type, None, str(tier))


def track_proxy_target(
    track: Track, quality: str | None, default: str, *, pre_encode: bool = True
) -> ServeTarget:
    """What the Range proxy serves for a track: a tier, or ``original`` as an attachment."""
    tier = parse_quality(quality, default, allow_original=True)
    return track_stream_target(track, tier, pre_encode=pre_encode)


def image_original_target(image: Image) -> ServeTarget:
    """An image's original, inline, with its file name."""
    return ServeTarget(
        key=image.original_key,
        content_type=image.content_type,
        disposition=content_disposition(image.filename, attachment=False),
        label="original",
    )


def image_targets(image: Image) -> tuple[ServeTarget, dict[str, ServeTarget]]:
    """The original and every thumbnail of an image, by thumbnail name."""
    thumbs = {
        r.name: ServeTarget(r.key, r.content_type or "image/webp", None, r.name)
        for r in sorted(image.thumbnails, key=lambda r: (len(r.name), r.name))
    }
    return image_original_target(image), thumbs


def image_proxy_target(image: Image, size: str | None) -> ServeTarget:
    """What the Range proxy serves for an image: the original, or thumbnail ``size``."""
    if size is None or size in ("", "original"):
        return image_original_target(image)
    rendition = image.thumbnail(size)
    if rendition is None:
        names = ", ".join(r.name for r in image.thumbnails) or "none yet"
        raise NotFound(f"Image {image.id!r} has no thumbnail {size!r} (available: {names}).")
    return ServeTarget(rendition.key, rendition.content_type or "image/webp", None, size)


def proxy_query(params: Mapping[str, str]) -> str:
    """A canonical query string (sorted) for a proxy URL."""
    return urlencode(sorted(params.items()))


UPLOAD_FIELDS = ("title", "visible")
"""Optional text fields of an upload request, applied to every uploaded item."""


def check_upload_field(name: str, value: str) -> object:
    """The value of one optional upload field (``title`` or ``visible``), validated.

    Called as the field arrives, so a bad value fails the upload while its files are
    still being streamed and the ingest pipeline removes them: nothing is kept.
    """
    if name == "title":
        return _text("title", value, min_len=0, max_len=MAX_TITLE)
    raw = value.strip().lower()
    if raw not in ("true", "false"):
        raise UnprocessableEntity(f"visible must be 'true' or 'false'; got {value!r}.")
    return raw == "true"


def upload_changes(fields: Mapping[str, str], now: datetime) -> dict[str, object]:
    """The changes the optional ``title`` / ``visible`` form fields of an upload ask for."""
    changes: dict[str, object] = {
        name: check_upload_field(name, value)
        for name, value in fields.items()
        if name in UPLOAD_FIELDS
    }
    if changes:
        changes["updated_at"] = now
    return changes


@attrs.frozen
class ProxyUrl:
    """A URL of the app's own Range proxy (``MEDIA_DELIVERY=proxy``).

    Access is checked on every request there, so ``expires_at`` is only advice: the
    moment a presigned URL handed out now would expire.
    """

    url: str
    expires_at: datetime


def proxy_url(
    base: str, item_id: str, params: Mapping[str, str], now: datetime, ttl: int
) -> ProxyUrl:
    """The proxy URL serving ``item_id`` with ``params`` (``quality`` or ``size``)."""
    query = proxy_query(params)
    url = f"{base}/{item_id}/stream" + (f"?{query}" if query else "")
    return ProxyUrl(url, now + timedelta(seconds=ttl))


def track_upload_changes(fields: Mapping[str, str], now: datetime) -> dict[str, object]:
    """The changes the optional ``title`` field of a track upload asks for."""
    return upload_changes({k: v for k, v in fields.items() if k == "title"}, now)
