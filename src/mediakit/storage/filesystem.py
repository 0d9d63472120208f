"""The local filesystem object store: the embedded default, no S3 account needed.

Layout under ``root/<bucket>/``::

    images/ab12/original                 the object's bytes, exactly as uploaded
    .mediakit/meta/<sha256(key)>.json    sidecar: content type, etag (quoted MD5), size
    .mediakit/tmp/<upload_id>.part       a write in progress (and its .json: key, started)

Writes are atomic: bytes go to a temp file, are fsynced, then ``os.replace``-d into
place, so a reader sees the old object or the new one, never half of one. A write in
progress, or left behind by a crash, is listed by :meth:`list_multipart_uploads` like an
unfinished S3 multipart upload and removed by :meth:`abort_multipart_upload`, so the same
stale-upload sweep cleans both.

A key may not be both an object and a prefix of another (``a`` and ``a/b``): mediakit's
key layout never does that, and the filesystem cannot store it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs

from mediakit.errors import ObjectNotFound, RangeNotSatisfiable, StorageError
from mediakit.storage._common import INTERNAL_DIR as _INTERNAL
from mediakit.storage._common import check_span, key_parts, open_range_via_head
from mediakit.storage._protocols import ByteSpan, MultipartUploadInfo, ObjectInfo, OpenedRange

__all__ = ["FilesystemObjectStore"]

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_OCTET = "application/octet-stream"


@contextlib.contextmanager
def _os_errors(key: str, bucket: str) -> Iterator[None]:
    """Filesystem errors as mediakit errors (the filesystem twin of ``translate_errors``)."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ObjectNotFound(f"No object {key!r} in bucket {bucket!r}.") from exc
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        raise StorageError(
            f"Key {key!r} clashes with another key in bucket {bucket!r}: one key may not be "
            "both an object and a prefix of another on the filesystem store."
        ) from exc
    except OSError as exc:
        raise StorageError(f"The filesystem store failed on {key!r}: {exc}") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@attrs.define
class FilesystemObjectStore:
    """:class:`~mediakit.storage.ObjectStore` on a local directory; thread- and process-safe."""

    root: Path = attrs.field(converter=Path)
    bucket: str

    @property
    def base(self) -> Path:
        """The bucket's directory."""
        return self.root / self.bucket

    def _data(self, key: str) -> Path:
        return self.base.joinpath(*key_parts(key))

    def _meta(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.base / _INTERNAL / "meta" / f"{digest}.json"

    def _tmp(self) -> Path:
        return self.base / _INTERNAL / "tmp"

    def _check_bucket(self) -> None:
        if not self.base.is_dir():
            raise StorageError(
                f"The bucket directory {str(self.base)!r} does not exist. Create it (ensure_bucket) "
                "or fix MEDIAKIT_STORAGE_ROOT / MEDIA_ASSETS_BUCKET."
            )

    def ensure_bucket(self) -> None:
        """Create the bucket's directories if missing."""
        (self.base / _INTERNAL / "tmp").mkdir(parents=True, exist_ok=True)
        (self.base / _INTERNAL / "meta").mkdir(parents=True, exist_ok=True)

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """Store ``data`` atomically."""
        return self.put_stream(key, (data,), content_type=content_type)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        """Stream ``chunks`` to a temp file, fsync, then atomically move it into place.

        Memory holds one chunk. If anything fails, the caller's iterator included, the
        temp file is removed and the exception propagates unchanged.
        """
        target = self._data(key)
        self._check_bucket()
        tmp = self._tmp()
        upload_id = secrets.token_hex(16)
        part, marker = tmp / f"{upload_id}.part", tmp / f"{upload_id}.json"
        try:
            with _os_errors(key, self.bucket):
                tmp.mkdir(parents=True, exist_ok=True)
                marker.write_text(json.dumps({"key": key}))
            md5 = hashlib.md5(usedforsecurity=False)
            size = 0
            with _os_errors(key, self.bucket):
                out = open(part, "wb")  # noqa: SIM115 - closed by the with below
            with out:
                for chunk in chunks:  # the caller's errors pass through untranslated
                    md5.update(chunk)
                    size += len(chunk)
                    with _os_errors(key, self.bucket):
                        out.write(chunk)
                with _os_errors(key, self.bucket):
                    out.flush()
                    os.fsync(out.fileno())
            etag = f'"{md5.hexdigest()}"'
            meta = {"content_type": content_type, "etag": etag, "size": size}
            with _os_errors(key, self.bucket):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, target)
                _fsync_dir(target.parent)
                self._write_meta(key, meta, tmp / f"{upload_id}.meta")
                mtime = target.stat().st_mtime
        finally:
            for leftover in (part, marker, tmp / f"{upload_id}.meta"):
                leftover.unlink(missing_ok=True)
        return ObjectInfo(key, size, etag, datetime.fromtimestamp(mtime, UTC), content_type)

    def _write_meta(self, key: str, meta: dict[str, object], tmp: Path) -> None:
        path = self._meta(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(meta, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def head(self, key: str) -> ObjectInfo:
        """Size and mtime from the file, content type and etag from the sidecar."""
        path = self._data(key)
        with _os_errors(key, self.bucket):
            st = path.stat()
            if not path.is_file():
                raise ObjectNotFound(f"No object {key!r} in bucket {self.bucket!r}.")
            try:
                meta = json.loads(self._meta(key).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
        if meta.get("size") != st.st_size:  # sidecar missing or stale (crash between renames)
            md5 = hashlib.md5(usedforsecurity=False)
            with _os_errors(key, self.bucket), open(path, "rb") as f:
                for block in iter(lambda: f.read(1024 * 1024), b""):
                    md5.update(block)
            meta = {"etag": f'"{md5.hexdigest()}"', "content_type": meta.get("content_type")}
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=str(meta["etag"]),
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            content_type=str(meta.get("content_type") or _OCTET),
        )

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Read only ``span`` (clamped to the end of the file); the file closes with the generator."""
        path = self._data(key)
        if span is not None:
            check_span(span)
        return self._read(key, path, span, chunk_size)

    def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> OpenedRange:
        """See :meth:`~mediakit.storage.RangeOpener.open_range` (a HEAD is a ``stat`` here)."""
        return open_range_via_head(self, key, first, last, chunk_size)

    def _read(
        self, key: str, path: Path, span: ByteSpan | None, chunk_size: int
    ) -> Iterator[bytes]:
        if path.is_dir():  # a prefix of other keys, not an object
            raise ObjectNotFound(f"No object {key!r} in bucket {self.bucket!r}.")
        with _os_errors(key, self.bucket), open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            first, last = (0, size - 1) if span is None else (span.first, span.last)
            if span is not None and first >= size:
                raise RangeNotSatisfiable(size)
            f.seek(first)
            remaining = min(last, size - 1) - first + 1
            while remaining > 0:
                block = f.read(min(chunk_size, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block

    def delete(self, key: str) -> None:
        """Remove the object and its sidecar; a missing key is not an error."""
        path = self._data(key)
        if path.is_dir():  # a prefix of other keys, not an object: nothing to delete
            return
        with _os_errors(key, self.bucket):
            path.unlink(missing_ok=True)
            self._meta(key).unlink(missing_ok=True)
        # prune directories the delete emptied, so a later key may reuse the name
        for parent in path.parents:
            if parent == self.base or self.base not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete every key (local deletes have no per-key transient failures to retry)."""
        for key in keys:
            self.delete(key)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix``, sorted (code-point order is S3's byte order)."""
        self._check_bucket()
        head, _, _ = prefix.rpartition("/")
        try:
            start = self._data(head) if head else self.base
        except ValueError:
            return iter(())
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            rel = Path(dirpath).relative_to(self.base).as_posix()
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d != _INTERNAL]
                rel = ""
            for name in filenames:
                key = f"{rel}/{name}" if rel else name
                if key.startswith(prefix):
                    found.append(key)
        return iter(sorted(found))

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """Writes in progress, or left behind by a crash, under ``prefix``."""
        out: list[MultipartUploadInfo] = []
        for marker in sorted(self._tmp().glob("*.json")):
            try:
                key = str(json.loads(marker.read_text(encoding="utf-8"))["key"])
                started = datetime.fromtimestamp(marker.stat().st_mtime, UTC)
            except (OSError, ValueError, KeyError):
                continue  # finished or aborted meanwhile, or unreadable
            if key.startswith(prefix):
                out.append(MultipartUploadInfo(key=key, upload_id=marker.stem, initiated=started))
        return out

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Remove a write's temp files; an unknown upload is not an error."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            return
        for suffix in (".part", ".meta", ".json"):
            (self._tmp() / f"{upload_id}{suffix}").unlink(missing_ok=True)
