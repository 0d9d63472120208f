"""The upload use case's I/O: stream each file to the store, insert the rows, clean up on
failure (see :mod:`mediakit.uploads.ingest`). Written once, on the asynchronous store, in
``_async.py``; the sync twin ``_sync.py`` is generated from it by ``scripts/unasync.py``.
On the async side the blocking steps (the repository, the image check) run in a worker
thread and the clean-up is shielded from cancellation (:mod:`._hops`)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import IO, Protocol

import anyio.to_thread

from mediakit import keys
from mediakit.clock import Clock, system_clock
from mediakit.models import Image, Principal, Track, new_id
from mediakit.repositories import Repositories
from mediakit.storage import AsyncObjectStore
from mediakit.uploads.ingest._common import (
    DEFAULT_IMAGE_MAX_PIXELS,
    FileCheck,
    OnCreated,
    _check_admin,
    _check_file_field,
    _image_row,
    _no_files,
    _notify,
    _require_set,
    _spool,
    _store_down,
    _track_row,
    clean_filename,
    image_check,
    log,
)
from mediakit.uploads.ingest._hops import shielded, spawn_task
from mediakit.uploads.multipart import FormField
from mediakit.uploads.sniff import AUDIO_TYPES, SNIFF_BYTES, image_types, sniff

__all__ = ["AsyncUploadedFile", "aingest_images", "aingest_tracks"]


class AsyncUploadedFile(Protocol):
    """A file of an upload, e.g. :class:`~mediakit.uploads.multipart.AsyncFilePart`."""

    field_name: str
    filename: str

    async def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes, buffered for :meth:`chunks`."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """Every byte of the file, once."""
        ...


async def _atee(chunks: AsyncIterator[bytes], copy: IO[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        copy.write(chunk)  # memory, or the page cache past _SPOOL_IN_MEMORY
        yield chunk


# --- cleanup ----------------------------------------------------------------------------


async def _acleanup(store: AsyncObjectStore, prefix: str, written: list[str]) -> None:
    """Delete every object of the failed request and abort its open multipart uploads.

    Runs on the failure path only; its own errors are logged (the original error is the
    one that matters to the caller) and what is left is found by
    :func:`mediakit.uploads.gc.find_orphans` later. When the request failed because the
    store is unreachable or hung, the clean-up runs in the background (a task, or a
    thread on the sync side): waiting for it would hold the error response for two more
    timeouts (``MEDIA_S3_READ_TIMEOUT``). On the async side it is shielded from
    cancellation (a client disconnect).
    """
    if not written:
        return
    if _store_down():
        spawn_task(_acleanup_now, store, prefix, list(written))
        return
    await shielded(_acleanup_now, store, prefix, written)


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


# --- the use cases ----------------------------------------------------------------------


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
    """Sniff, store and ``check`` each file; returns ``(id, filename, content_type, size)``."""
    stored: list[tuple[str, str, str, int]] = []
    async for item in form:
        if isinstance(item, FormField):
            continue  # counted by the budget; no field is used by these endpoints
        filename = clean_filename(item.filename)
        _check_file_field(item.field_name, filename)
        content_type = sniff(await item.read_head(), filename=filename, allowed=allowed, kind=kind)
        item_id = new_id()
        key = key_for(item_id)
        written.append(key)  # before the put: a failing put is cleaned up too
        if check is None:
            info = await store.put_stream(key, item.chunks(), content_type=content_type)
        else:
            with _spool() as copy:
                info = await store.put_stream(
                    key, _atee(item.chunks(), copy), content_type=content_type
                )
                # refused: the caller cleans up
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
    """Store the uploaded images and insert their rows (all or nothing); see the module doc.

    Returns the created images (status ``pending``), in upload order. Each image is
    checked before any row is written (``max_pixels``: ``MEDIA_IMAGE_MAX_PIXELS``).
    Any failure cleans up, on the async side a cancellation (a client disconnect) too.

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
    """Store uploaded tracks at the end of music set ``set_id`` (all or nothing).

    Returns the created tracks (status ``pending``, positions assigned), in upload order.
    Raises what :func:`aingest_images` raises, and ``NotFound`` when the set does not
    exist (checked before the body is read, and again by the insert).
    """
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
        await _acleanup(store, keys.music_set_prefix(set_id), written)
        raise
    _notify(on_created, [r.id for r in rows])
    return rows
