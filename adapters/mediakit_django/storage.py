"""A Django ``Storage`` on S3: ``FileField``/``ImageField`` with mediakit's stable,
cached presigned URLs and ranged reads.

.. code-block:: python

    STORAGES = {
        "default": {
            "BACKEND": "mediakit_django.storage.MediaKitStorage",
            "OPTIONS": {"location": "uploads", "assets_bucket": "media"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

Options (``OPTIONS``, or keyword arguments): any :class:`mediakit.settings.Settings` field
(``assets_bucket``, ``s3_endpoint``, ``presign_ttl``...) over the lower-case keys of
``settings.MEDIAKIT`` and the ``MEDIA_*`` variables, plus

- ``location``: a key prefix (``"uploads"`` stores ``a.jpg`` at ``uploads/a.jpg``);
- ``file_overwrite``: ``False`` (default, Django's own behaviour): a name already taken
  gets a random suffix; ``True``: saving replaces it (django-storages'
  ``AWS_S3_FILE_OVERWRITE``, whose default is ``True``);
- ``default_content_type``: for names whose type cannot be guessed.

What is mediakit's here, and why it differs from django-storages' ``S3Storage``:

- ``url()`` is the same URL for every call (and every process) within a signing window,
  computed once and then served from a per-process cache: browsers and CDNs can cache
  the file, and a page of a hundred ``{{ obj.file.url }}`` costs microseconds, not a
  botocore presign each;
- ``open()`` returns a file whose reads are ranged GETs from the current position:
  ``seek()`` then ``read()`` fetches only the bytes from there (reading on continues on
  the same response), never the whole object first;
- ``save()`` streams the content in parts (one ``PUT`` when it fits one part, else a
  multipart upload that is aborted on any failure, so nothing half-written is left).

Stores and signers are shared by every storage instance with the same settings.
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import attrs
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property

from mediakit.errors import ObjectNotFound, RangeNotSatisfiable
from mediakit.presign import CachedSigner, build_signer
from mediakit.settings import Settings
from mediakit.storage import ByteSpan, ObjectInfo, ObjectStore, RangeOpener, S3ObjectStore
from mediakit.storage import translate_errors as _translate
from mediakit.values import Closable
from mediakit_django import conf

__all__ = ["MediaKitFile", "MediaKitStorage", "RangedReader"]

_STORAGE_OPTIONS = ("location", "file_overwrite", "default_content_type")


@attrs.frozen
class _Parts:
    store: S3ObjectStore
    signer: CachedSigner


_parts_lock = threading.Lock()
_parts: dict[Settings, _Parts] = {}


def _parts_for(settings: Settings) -> _Parts:
    """One store (boto3 client and pool) and one URL cache per distinct settings."""
    with _parts_lock:
        found = _parts.get(settings)
        if found is None:
            found = _parts[settings] = _Parts(
                S3ObjectStore.from_settings(settings), build_signer(settings)
            )
        return found


class RangedReader(io.RawIOBase):
    """A read-only, seekable raw file over one stored object.

    A read fetches from the current position with one ranged GET
    (``Range: bytes=pos-``) and keeps reading that response while reads stay sequential;
    a ``seek()`` elsewhere drops it, and the next read starts a new ranged GET there.
    Wrap it in :class:`io.BufferedReader` (as :meth:`MediaKitStorage.open` does).
    """

    def __init__(
        self,
        store: ObjectStore,
        key: str,
        *,
        info: ObjectInfo | None = None,
        chunk_size: int = 256 * 1024,
    ) -> None:
        super().__init__()
        self._store, self._key, self._info, self._chunk_size = store, key, info, chunk_size
        self._pos = 0
        self._chunks: Iterator[bytes] | None = None
        self._left = memoryview(b"")
        self.requests = 0
        """How many GETs this reader has sent (for tests and curiosity)."""

    @property
    def info(self) -> ObjectInfo:
        """The object's info (a HEAD, unless a GET told it already)."""
        if self._info is None:
            self._info = self._store.head(self._key)
        return self._info

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        return self.info.size

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Always true: a seek costs nothing until the next read."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position (``SEEK_END`` needs the size: a HEAD unless known)."""
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target != self._pos:
            self._drop()
            self._pos = target
        return self._pos

    def _drop(self) -> None:
        if isinstance(self._chunks, Closable):
            self._chunks.close()
        self._chunks = None
        self._left = memoryview(b"")

    def _open(self) -> bool:
        """Start a GET at the position; False at or past the end."""
        if self._info is not None and self._pos >= self._info.size:
            return False
        self.requests += 1
        if isinstance(self._store, RangeOpener):
            try:
                opened = self._store.open_range(self._key, self._pos, chunk_size=self._chunk_size)
            except RangeNotSatisfiable:
                return False
            if self._info is None:
                self._info = opened.info
            if opened.span is None:  # an empty object
                opened.chunks.close()
                return False
            self._chunks = opened.chunks
            return True
        info = self.info
        if self._pos >= info.size:
            return False
        span = ByteSpan(self._pos, info.size - 1)
        self._chunks = self._store.get_range(self._key, span, chunk_size=self._chunk_size)
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the current position; 0 at the end."""
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        while not self._left:
            if self._chunks is None and not self._open():
                return 0
            assert self._chunks is not None
            chunk = next(self._chunks, b"")
            if not chunk:
                self._drop()
                return 0
            self._left = memoryview(chunk)
        n = min(len(view), len(self._left))
        view[:n] = self._left[:n]
        self._left = self._left[n:]
        self._pos += n
        return n

    def close(self) -> None:
        """Drop the open response, if any."""
        self._drop()
        super().close()


class MediaKitFile(File):  # type: ignore[type-arg]
    """A stored file opened for reading: ranged reads, the size without a download."""

    def __init__(self, raw: RangedReader, name: str, *, text: bool = False) -> None:
        self.raw = raw
        buffered = io.BufferedReader(raw, buffer_size=raw._chunk_size)
        stream: IO[Any] = io.TextIOWrapper(buffered, encoding="utf-8") if text else buffered
        super().__init__(stream, name)
        self.mode = "r" if text else "rb"

    @cached_property
    def size(self) -> int:
        """The object's size (from the first GET or a HEAD)."""
        return self.raw.size


@deconstructible(path="mediakit_django.storage.MediaKitStorage")
class MediaKitStorage(Storage):
    """Django's storage API on an S3 bucket, through mediakit's store and URL signer.

    Args:
        location: key prefix for every name.
        file_overwrite: replace an existing name on save instead of finding a free one.
        default_content_type: the ``Content-Type`` stored when none can be guessed.
        **settings: :class:`mediakit.settings.Settings` fields over ``settings.MEDIAKIT``.
    """

    def __init__(
        self,
        *,
        location: str = "",
        file_overwrite: bool = False,
        default_content_type: str = "application/octet-stream",
        **settings: Any,
    ) -> None:
        unknown = sorted(set(settings) - conf.SETTINGS_FIELDS)
        if unknown:
            raise ImproperlyConfigured(
                f"MediaKitStorage has no option {unknown[0]!r}: its OPTIONS are "
                f"{', '.join(_STORAGE_OPTIONS)} and mediakit.Settings field names "
                "(docs/configuration.md)."
            )
        backend = settings.pop("storage_backend", "s3")
        if backend != "s3":
            raise ImproperlyConfigured(
                f"MediaKitStorage stores on S3; storage_backend={backend!r} is not supported."
            )
        if not isinstance(file_overwrite, bool):
            raise ImproperlyConfigured(
                f"MediaKitStorage: file_overwrite must be True or False, got {file_overwrite!r}."
            )
        self.location = str(location).strip("/")
        self.file_overwrite = file_overwrite
        self.default_content_type = default_content_type
        self._options = settings

    @cached_property
    def settings(self) -> Settings:
        """The mediakit settings of this storage (``MEDIAKIT`` + ``OPTIONS``)."""
        return conf.mediakit_settings(extra={**self._options, "storage_backend": "s3"})

    @cached_property
    def _shared(self) -> _Parts:
        return _parts_for(self.settings)

    @property
    def store(self) -> S3ObjectStore:
        """The object store (shared by storages with the same settings)."""
        return self._shared.store

    @property
    def signer(self) -> CachedSigner:
        """The URL signer and its cache (shared like the store)."""
        return self._shared.signer

    def key(self, name: str) -> str:
        """The object key of ``name``: the location, then the name."""
        if "\\" in name or name.startswith("/"):
            name = name.replace("\\", "/").lstrip("/")
        return f"{self.location}/{name}" if self.location else name

    # --- reading -------------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File:  # type: ignore[type-arg]
        if mode not in ("r", "rb"):
            raise ValueError(
                f"MediaKitStorage opens files for reading ('rb' or 'r'), not {mode!r}; "
                "write with storage.save(name, content)."
            )
        raw = RangedReader(self.store, self.key(name), chunk_size=self.settings.proxy_chunk_size)
        try:
            raw.info  # noqa: B018  # a missing file fails here, as open() does on disk
        except ObjectNotFound as exc:
            raise FileNotFoundError(f"No file {name!r} in {self._where()}.") from exc
        return MediaKitFile(raw, name, text=mode == "r")

    def _where(self) -> str:
        where = f"bucket {self.settings.assets_bucket!r}"
        return f"{where} under {self.location!r}" if self.location else where

    def _head(self, name: str) -> ObjectInfo:
        try:
            return self.store.head(self.key(name))
        except ObjectNotFound as exc:
            raise FileNotFoundError(f"No file {name!r} in {self._where()}.") from exc

    def exists(self, name: str) -> bool:
        """Whether an object is stored under ``name`` (a HEAD)."""
        try:
            self.store.head(self.key(name))
        except ObjectNotFound:
            return False
        return True

    def size(self, name: str) -> int:
        """The stored size of ``name``; ``FileNotFoundError`` when missing."""
        return self._head(name).size

    def get_modified_time(self, name: str) -> datetime:
        """When ``name`` was last written (aware with ``USE_TZ``, else naive local time)."""
        modified = self._head(name).last_modified
        from django.conf import settings as django_settings

        if django_settings.USE_TZ:
            return modified
        return timezone.make_naive(modified)

    def url(self, name: str | None) -> str:
        """A presigned GET URL: the same within a signing window, cached per process."""
        if name is None:
            raise ValueError("MediaKitStorage.url() needs a name.")
        return self._shared.signer.sign(self.key(name)).url

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """``(directories, files)`` directly under ``path`` (``ListObjectsV2`` with a
        ``/`` delimiter)."""
        prefix = self.key(path).rstrip("/")
        prefix = f"{prefix}/" if prefix else ""
        dirs: list[str] = []
        files: list[str] = []
        pages = self.store.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.store.bucket, Prefix=prefix, Delimiter="/"
        )
        with _translate(prefix, bucket=self.store.bucket):
            for page in pages:
                for common in page.get("CommonPrefixes", ()):
                    dirs.append(common["Prefix"][len(prefix) :].rstrip("/"))
                for obj in page.get("Contents", ()):
                    files.append(obj["Key"][len(prefix) :])
        return dirs, [f for f in files if f]

    # --- writing -------------------------------------------------------------------

    def _content_type(self, name: str, content: Any) -> str:
        given = getattr(content, "content_type", None)
        if isinstance(given, str) and given:
            return given
        return mimetypes.guess_type(name)[0] or self.default_content_type

    def _save(self, name: str, content: Any) -> str:
        if hasattr(content, "seekable") and content.seekable():
            content.seek(0)
        chunks = content.chunks(self.settings.multipart_part_size)
        self.store.put_stream(
            self.key(name), chunks, content_type=self._content_type(name, content)
        )
        return name

    def delete(self, name: str) -> None:
        """Delete ``name``; a missing one is not an error."""
        if not name:
            raise ValueError("MediaKitStorage.delete() needs a name.")
        self.store.delete(self.key(name))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """``name`` itself with ``file_overwrite``; otherwise a free name (a random
        suffix while the name is taken), as Django's own storages do."""
        name = str(name).replace("\\", "/")
        if not self.file_overwrite:
            return str(super().get_available_name(name, max_length))
        if max_length is None or len(name) <= max_length:
            return name
        root, ext = posixpath.splitext(name)
        cut = len(name) - max_length
        directory, base = posixpath.split(root)
        if cut >= len(base):
            raise SuspiciousFileOperation(
                f"Storage cannot fit {name!r} into {max_length} characters; give the "
                "FileField a larger max_length or shorten upload_to."
            )
        return posixpath.join(directory, base[:-cut] + ext)

    def path(self, name: str) -> str:
        """There is no local path: use :meth:`open` (``NotImplementedError``)."""
        raise NotImplementedError(
            "MediaKitStorage files live on S3 and have no local path; use open()."
        )
