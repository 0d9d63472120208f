"""What the sync and async upload use cases share: the pure decisions (accept a file or
not, its key, its row), the door check of images, the spool, the notification. See
:mod:`mediakit.uploads.ingest`; the use cases themselves are written once in ``_async.py``
and generated into ``_sync.py`` by ``scripts/unasync.py``."""

from __future__ import annotations

import logging
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import IO

from mediakit import keys
from mediakit.errors import (
    BadRequest,
    Forbidden,
    ImageRefused,
    NotFound,
    ProcessingError,
    StorageUnavailable,
)
from mediakit.models import Image, Principal, ProcessingStatus, Track
from mediakit.repositories import Repositories

__all__ = [
    "DEFAULT_IMAGE_MAX_PIXELS",
    "FILES_FIELD",
    "FileCheck",
    "OnCreated",
    "clean_filename",
    "image_check",
]

log = logging.getLogger("mediakit.uploads.ingest")  # the name it always had

FILES_FIELD = "files"
"""The repeatable multipart field carrying the files."""

OnCreated = Callable[[list[str]], None]
"""Called with the ids of the created items once their rows are committed."""

DEFAULT_IMAGE_MAX_PIXELS = 100_000_000
"""``max_pixels`` of :func:`ingest_images` when none is given (the setting's default)."""

_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # an image copy past this size goes to a temp file

FileCheck = Callable[[IO[bytes], str, str], None]
"""``check(file, filename, content_type)``: raise to refuse a complete uploaded file."""


# --- pure decisions -------------------------------------------------------------------


def clean_filename(name: str) -> str:
    """A client file name made safe to keep as metadata.

    Drops any directory part, control and format characters, and surrounding dots and
    spaces; normalizes to NFC; caps at 255 characters (extension kept). Never empty.

    >>> clean_filename("C:\\\\Users\\\\me\\\\..\\\\photo\\x00.jpg"), clean_filename("../../")
    ('photo.jpg', 'upload')
    """
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = name.strip(" .")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = stem[: 254 - len(ext)] + dot + ext if dot and len(ext) < 16 else name[:255]
    return name or "upload"


def _title(filename: str) -> str:
    stem, dot, _ = filename.rpartition(".")
    return stem if dot and stem else filename


def _check_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only admins may upload media.")


def _check_file_field(field_name: str, filename: str) -> None:
    if field_name != FILES_FIELD:
        raise BadRequest(
            f"The file {filename!r} was sent in the field {field_name!r}; "
            f"send files in the repeatable field {FILES_FIELD!r}."
        )


def _no_files() -> BadRequest:
    return BadRequest(
        f"The request has no files; send them in the repeatable field {FILES_FIELD!r}."
    )


def _image_row(
    image_id: str, filename: str, content_type: str, size: int, now: datetime, owner: str
) -> Image:
    return Image(
        id=image_id,
        original_key=keys.image_original(image_id),
        filename=filename,
        content_type=content_type,
        size=size,
        created_at=now,
        updated_at=now,
        title=_title(filename),
        owner_id=owner,
        status=ProcessingStatus.PENDING,
    )


def _track_row(
    set_id: str, track_id: str, filename: str, content_type: str, size: int, now: datetime
) -> Track:
    return Track(
        id=track_id,
        set_id=set_id,
        original_key=keys.track_original(set_id, track_id),
        filename=filename,
        content_type=content_type,
        size=size,
        created_at=now,
        updated_at=now,
        title=_title(filename),
        status=ProcessingStatus.PENDING,
    )


def image_check(max_pixels: int) -> FileCheck:
    """The door check of uploaded images: :func:`~mediakit.processing.images.check_image`
    with the format narrowed to the sniffed type, its refusal naming the file."""
    from mediakit.processing import images  # Pillow only where images are uploaded

    def check(file: IO[bytes], filename: str, content_type: str) -> None:
        fmt = images.MIME_TO_FORMAT.get(content_type)
        file.seek(0)
        try:
            images.check_image(file, max_pixels=max_pixels, formats=[fmt] if fmt else None)
        except ProcessingError as exc:
            raise ImageRefused(f"{filename!r} was refused: {exc.message}") from None

    return check


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, prefix="mediakit-check-")


def _notify(on_created: OnCreated | None, ids: list[str]) -> None:
    if on_created is None or not ids:
        return
    try:
        on_created(ids)
    except Exception:
        log.exception("uploaded items %s are stored but could not be queued for processing", ids)


def _store_down() -> bool:
    """Whether the error being handled (cleanups run in ``except`` blocks) says that the
    store is unreachable or hung."""
    return isinstance(sys.exc_info()[1], StorageUnavailable)


def _require_set(repos: Repositories, set_id: str) -> None:
    if repos.music_sets.get(set_id) is None:
        raise NotFound(f"There is no music set {set_id!r}.")
