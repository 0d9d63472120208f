"""The upload use case: check every file, store the originals, insert the rows, hand off.

``ingest_images`` / ``ingest_tracks`` (sync) and ``aingest_images`` / ``aingest_tracks``
(async) take the form items of a :class:`~mediakit.uploads.multipart.MultipartReader`
(or any iterable of objects with the same ``filename``/``read_head``/``chunks``), and:

1. for each file part in the repeatable field ``files``, sniff the first bytes against
   the allowlist *before* writing anything, then stream it to the store under a key made
   from a fresh :func:`~mediakit.models.new_id` (the client's file name is metadata only,
   kept for ``Content-Disposition``), with the sniffed type as its content type;
   an image is also copied to a spooled temporary file as it streams, and checked
   (:func:`~mediakit.processing.images.check_image`: format, declared size against
   ``MEDIA_IMAGE_MAX_PIXELS``, truncation) once it is complete;
2. insert all rows in one transaction (``add_many``), status ``pending``;
3. call ``on_created(ids)`` (the service passes the job runner's ``submit``).

**A batch is all-or-nothing.** If any file is refused (type, size, count) or anything
fails (the store, the database, the client going away, a cancellation), every object the
request wrote is deleted, every multipart upload it opened is aborted, no row is left,
and the error propagates. An admin re-sending "the same batch" then never creates
duplicates of the files that happened to pass, and a response is never a half success
to untangle. (The caps make a batch small enough that re-sending it is cheap.)

If ``on_created`` raises after the rows are committed, the upload still succeeded: the
error is logged and the items stay ``pending`` for a later re-submission.

The twins only sequence I/O; the decisions (what to accept, which key, which row) are
the pure helpers here and in :mod:`~mediakit.uploads.sniff` /
:mod:`~mediakit.uploads.limits`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import threading
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, Protocol

import anyio
import anyio.to_thread

from mediakit import keys
from mediakit.clock import Clock, system_clock
from mediakit.errors import (
    BadRequest,
    Forbidden,
    ImageRefused,
    NotFound,
    ProcessingError,
    StorageUnavailable,
)
from mediakit.models import Image, Principal, ProcessingStatus, Track, new_id
from mediakit.repositories import Repositories
from mediakit.storage import AsyncObjectStore, ObjectStore
from mediakit.uploads.multipart import FormField
from mediakit.uploads.sniff import AUDIO_TYPES, SNIFF_BYTES, image_types, sniff

__all__ = [
    "DEFAULT_IMAGE_MAX_PIXELS",
    "FILES_FIELD",
    "AsyncUploadedFile",
    "OnCreated",
    "UploadedFile",
    "aingest_images",
    "aingest_tracks",
    "clean_filename",
    "image_check",
    "ingest_images",
    "ingest_tracks",
]

log = logging.getLogger(__name__)

FILES_FIELD = "files"
"""The repeatable multipart field carrying the files."""

OnCreated = Callable[[list[str]], None]
"""Called with the ids of the created items once their rows are committed."""

DEFAULT_IMAGE_MAX_PIXELS = 100_000_000
"""``max_pixels`` of :func:`ingest_images` when none is given (the setting's default)."""

_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # an image copy past this size goes to a temp file

FileCheck = Callable[[IO[bytes], str, str], None]
"""``check(file, filename, content_type)``: raise to refuse a complete uploaded file."""


class UploadedFile(Protocol):
    """A file of an upload (sync), e.g. :class:`~mediakit.uploads.multipart.FilePart`."""

    field_name: str
    filename: str

    def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes, buffered for :meth:`chunks`."""
        ...

    def chunks(self) -> Iterator[bytes]:
        """Every byte of the file, once."""
        ...


class AsyncUploadedFile(Protocol):
    """A file of an upload (async), e.g. :class:`~mediakit.uploads.multipart.AsyncFilePart`."""

    field_name: str
    filename: str

    async def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes, buffered for :meth:`chunks`."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """Every byte of the file, once."""
        ...


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


def _tee(chunks: Iterator[bytes], copy: IO[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        copy.write(chunk)
        yield chunk


async def _atee(chunks: AsyncIterator[bytes], copy: IO[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        copy.write(chunk)  # memory, or the page cache past _SPOOL_IN_MEMORY
        yield chunk


def _notify(on_created: OnCreated | None, ids: list[str]) -> None:
    if on_created is None or not ids:
        return
    try:
        on_created(ids)
    except Exception:
        log.exception("uploaded items %s are stored but could not be queued for processing", ids)


# --- cleanup ----------------------------------------------------------------------------


def _store_down() -> bool:
    """Whether the error being handled (cleanups run in ``except`` blocks) says that the
    store is unreachable or hung."""
    return isinstance(sys.exc_info()[1], StorageUnavailable)


_BACKGROUND: set[object] = set()  # clean-ups still running (keeps asyncio tasks alive)


def _cleanup(store: ObjectStore, prefix: str, written: list[str]) -> None:
    """Delete every object of the failed request and abort its open multipart uploads.

    Runs on the failure path only; its own errors are logged (the original error is the
    one that matters to the caller) and what is left is found by
    :func:`mediakit.uploads.gc.find_orphans` later. When the request failed because the
    store is unreachable or hung, the clean-up runs in a background thread: waiting for
    it would hold the error response for two more timeouts (``MEDIA_S3_READ_TIMEOUT``).
    """
    if not written:
        return
    if _store_down():
        worker = threading.Thread(
            target=_cleanup_now, args=(store, prefix, list(written)), daemon=True
        )
        worker.start()
        return
    _cleanup_now(store, prefix, written)


def _cleanup_now(store: ObjectStore, prefix: str, written: list[str]) -> None:
    try:
        store.delete_many(written)
    except Exception:
        log.exception("could not delete the objects of a failed upload: %s", written)
    mine = set(written)
    try:
        for upload in store.list_multipart_uploads(prefix):
            if upload.key in mine:
                store.abort_multipart_upload(upload.key, upload.upload_id)
    except Exception:
        log.exception("could not abort the multipart uploads of a failed upload: %s", written)


async def _acleanup(store: AsyncObjectStore, prefix: str, written: list[str]) -> None:
    """The async twin of :func:`_cleanup`; shielded from cancellation by the caller."""
    if not written:
        return
    if _store_down():
        task = asyncio.get_running_loop().create_task(_acleanup_now(store, prefix, list(written)))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        return
    await _acleanup_now(store, prefix, written)


async def _acleanup_now(store: AsyncObjectStore, prefix: str, written: list[str]) -> None:
    try:
        await store.delete_many(written)
    except Exception:
        log.exception("could not delete the objects of a failed upload: %s", written)
    mine = set(written)
    try:
        for upload in await store.list_multipart_uploads(prefix):
            if upload.key in mine:
                await store.abort_multipart_upload(upload.key, upload.upload_id)
    except Exception:
        log.exception("could not abort the multipart uploads of a failed upload: %s", written)


# --- sync twins -------------------------------------------------------------------------


def _store_files(
    form: Iterable[UploadedFile | FormField],
    store: ObjectStore,
    *,
    allowed: frozenset[str],
    kind: str,
    key_for: Callable[[str], str],
    written: list[str],
    check: FileCheck | None = None,
) -> list[tuple[str, str, str, int]]:
    """Sniff, store and ``check`` each file; returns ``(id, filename, content_type, size)``."""
    stored: list[tuple[str, str, str, int]] = []
    for item in form:
        if isinstance(item, FormField):
            continue  # counted by the budget; no field is used by these endpoints
        filename = clean_filename(item.filename)
        _check_file_field(item.field_name, filename)
        content_type = sniff(item.read_head(), filename=filename, allowed=allowed, kind=kind)
        item_id = new_id()
        key = key_for(item_id)
        written.append(key)  # before the put: a failing put is cleaned up too
        if check is None:
            info = store.put_stream(key, item.chunks(), content_type=content_type)
        else:
            with _spool() as copy:
                info = store.put_stream(key, _tee(item.chunks(), copy), content_type=content_type)
                check(copy, filename, content_type)  # refused: the caller cleans up
        stored.append((item_id, filename, content_type, info.size))
    if not stored:
        raise _no_files()
    return stored


def ingest_images(
    form: Iterable[UploadedFile | FormField],
    *,
    store: ObjectStore,
    repos: Repositories,
    principal: Principal,
    clock: Clock = system_clock,
    on_created: OnCreated | None = None,
    max_pixels: int = DEFAULT_IMAGE_MAX_PIXELS,
) -> list[Image]:
    """Store the uploaded images and insert their rows (all or nothing); see the module doc.

    Returns the created images (status ``pending``), in upload order. Each image is
    checked before any row is written (``max_pixels``: ``MEDIA_IMAGE_MAX_PIXELS``).

    Raises:
        Forbidden: ``principal`` is not an admin.
        BadRequest: no files, a file outside the ``files`` field, too many files/fields,
            a malformed or truncated body.
        UploadTooLarge: a size cap was crossed.
        UnsupportedMediaType: a file is not an allowed image type.
        ImageRefused: an image is over ``max_pixels``, truncated or corrupt (422).
        StorageError: the store failed. Any other error of the repository passes through.
    """
    _check_admin(principal)
    written: list[str] = []
    try:
        stored = _store_files(
            form,
            store,
            allowed=image_types(),
            kind="image",
            key_for=keys.image_original,
            written=written,
            check=image_check(max_pixels),
        )
        now = clock.now()
        rows = [_image_row(i, f, ct, n, now, principal.id) for i, f, ct, n in stored]
        repos.images.add_many(rows)
    except BaseException:
        _cleanup(store, "images/", written)
        raise
    _notify(on_created, [r.id for r in rows])
    return rows


def _require_set(repos: Repositories, set_id: str) -> None:
    if repos.music_sets.get(set_id) is None:
        raise NotFound(f"There is no music set {set_id!r}.")


def ingest_tracks(
    set_id: str,
    form: Iterable[UploadedFile | FormField],
    *,
    store: ObjectStore,
    repos: Repositories,
    principal: Principal,
    clock: Clock = system_clock,
    on_created: OnCreated | None = None,
) -> list[Track]:
    """Store uploaded tracks at the end of music set ``set_id`` (all or nothing).

    Returns the created tracks (status ``pending``, positions assigned), in upload order.
    Raises what :func:`ingest_images` raises, and ``NotFound`` when the set does not
    exist (checked before the body is read, and again by the insert).
    """
    _check_admin(principal)
    _require_set(repos, set_id)
    written: list[str] = []
    try:
        stored = _store_files(
            form,
            store,
            allowed=AUDIO_TYPES,
            kind="audio",
            key_for=lambda track_id: keys.track_original(set_id, track_id),
            written=written,
        )
        now = clock.now()
        rows = repos.tracks.add_many(
            [_track_row(set_id, i, f, ct, n, now) for i, f, ct, n in stored]
        )
    except BaseException:
        _cleanup(store, keys.music_set_prefix(set_id), written)
        raise
    _notify(on_created, [r.id for r in rows])
    return rows


# --- async twins ------------------------------------------------------------------------


async def _astore_files(
    form: AsyncIterable[AsyncUploadedFile | FormField],
    store: AsyncObjectStore,
    *,
    allowed: frozenset[str],
    kind: str,
    key_for: Callable[[str], str],
    written: list[str],
    check: FileCheck | None = None,
) -> list[tuple[str, str, str, int]]:
    """The async twin of :func:`_store_files` (the check runs in a worker thread)."""
    stored: list[tuple[str, str, str, int]] = []
    async for item in form:
        if isinstance(item, FormField):
            continue
        filename = clean_filename(item.filename)
        _check_file_field(item.field_name, filename)
        content_type = sniff(await item.read_head(), filename=filename, allowed=allowed, kind=kind)
        item_id = new_id()
        key = key_for(item_id)
        written.append(key)
        if check is None:
            info = await store.put_stream(key, item.chunks(), content_type=content_type)
        else:
            with _spool() as copy:
                info = await store.put_stream(
                    key, _atee(item.chunks(), copy), content_type=content_type
                )
                await anyio.to_thread.run_sync(check, copy, filename, content_type)
        stored.append((item_id, filename, content_type, info.size))
    if not stored:
        raise _no_files()
    return stored


async def aingest_images(
    form: AsyncIterable[AsyncUploadedFile | FormField],
    *,
    store: AsyncObjectStore,
    repos: Repositories,
    principal: Principal,
    clock: Clock = system_clock,
    on_created: OnCreated | None = None,
    max_pixels: int = DEFAULT_IMAGE_MAX_PIXELS,
) -> list[Image]:
    """The async twin of :func:`ingest_images` (repository calls run in a worker thread).

    Cancellation (a client disconnect) cleans up like any other failure.
    """
    _check_admin(principal)
    written: list[str] = []
    try:
        stored = await _astore_files(
            form,
            store,
            allowed=image_types(),
            kind="image",
            key_for=keys.image_original,
            written=written,
            check=image_check(max_pixels),
        )
        now = clock.now()
        rows = [_image_row(i, f, ct, n, now, principal.id) for i, f, ct, n in stored]
        await anyio.to_thread.run_sync(repos.images.add_many, rows)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _acleanup(store, "images/", written)
        raise
    _notify(on_created, [r.id for r in rows])
    return rows


async def aingest_tracks(
    set_id: str,
    form: AsyncIterable[AsyncUploadedFile | FormField],
    *,
    store: AsyncObjectStore,
    repos: Repositories,
    principal: Principal,
    clock: Clock = system_clock,
    on_created: OnCreated | None = None,
) -> list[Track]:
    """The async twin of :func:`ingest_tracks`."""
    _check_admin(principal)
    await anyio.to_thread.run_sync(_require_set, repos, set_id)
    written: list[str] = []
    try:
        stored = await _astore_files(
            form,
            store,
            allowed=AUDIO_TYPES,
            kind="audio",
            key_for=lambda track_id: keys.track_original(set_id, track_id),
            written=written,
        )
        now = clock.now()
        new_rows = [_track_row(set_id, i, f, ct, n, now) for i, f, ct, n in stored]
        rows = await anyio.to_thread.run_sync(repos.tracks.add_many, new_rows)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _acleanup(store, keys.music_set_prefix(set_id), written)
        raise
    _notify(on_created, [r.id for r in rows])
    return rows
