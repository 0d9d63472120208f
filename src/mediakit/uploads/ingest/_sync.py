# GENERATED from src/mediakit/uploads/ingest/_async.py by scripts/unasync.py: do not edit.
# Edit the async source and run `python scripts/unasync.py` (CI checks this file is fresh).
"""The upload use case's I/O: stream each file to the store, insert the rows, clean up on
failure (see :mod:`mediakit.uploads.ingest`). Written once, on the asynchronous store, in
``_async.py``; the sync twin ``_sync.py`` is generated from it by ``scripts/unasync.py``.
On the async side the blocking steps (the repository, the image check) run in a worker
thread and the clean-up is shielded from cancellation (:mod:`._hops`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO, Protocol

from mediakit import keys
from mediakit.clock import Clock, system_clock
from mediakit.models import Image, Principal, Track, new_id
from mediakit.repositories import Repositories
from mediakit.storage import ObjectStore
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
from mediakit.uploads.ingest._hops import spawn_thread
from mediakit.uploads.multipart import FormField
from mediakit.uploads.sniff import AUDIO_TYPES, SNIFF_BYTES, image_types, sniff

__all__ = ["UploadedFile", "ingest_images", "ingest_tracks"]


class UploadedFile(Protocol):
    """A file of an upload, e.g. :class:`~mediakit.uploads.multipart.FilePart`."""

    field_name: str
    filename: str

    def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes, buffered for :meth:`chunks`."""
        ...

    def chunks(self) -> Iterator[bytes]:
        """Every byte of the file, once."""
        ...


def _tee(chunks: Iterator[bytes], copy: IO[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        copy.write(chunk)  # memory, or the page cache past _SPOOL_IN_MEMORY
        yield chunk


# --- cleanup ----------------------------------------------------------------------------


def _cleanup(store: ObjectStore, prefix: str, written: list[str]) -> None:
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
        spawn_thread(_cleanup_now, store, prefix, list(written))
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


# --- the use cases ----------------------------------------------------------------------


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
                # refused: the caller cleans up
                check(copy, filename, content_type)
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
        new_rows = [_track_row(set_id, i, f, ct, n, now) for i, f, ct, n in stored]
        rows = repos.tracks.add_many(new_rows)
    except BaseException:
        _cleanup(store, keys.music_set_prefix(set_id), written)
        raise
    _notify(on_created, [r.id for r in rows])
    return rows
