"""The synchronous S3 object store (boto3), for any S3-compatible service."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import attrs
import boto3
from botocore.config import Config

from mediakit.errors import ObjectNotFound
from mediakit.settings import Settings
from mediakit.storage._common import (
    CONTENT_MD5_EVENT,
    GatheredPart,
    Overlap,
    PartAssembler,
    PartGatherer,
    UploadedParts,
    add_content_md5,
    client_config_kwargs,
    client_kwargs,
    delete_requests,
    get_info,
    has_etag,
    head_info,
    open_range_header,
    put_info,
    range_header,
)
from mediakit.storage._errors import translate_errors
from mediakit.storage._part_http import PartTransport, _choose_prehashed, _PartBody
from mediakit.storage._protocols import ByteSpan, MultipartUploadInfo, ObjectInfo, OpenedRange
from mediakit.storage._ranged_http import RangedReader, fast_path_allowed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3ObjectStore", "make_client_config"]


def make_client_config(settings: Settings) -> Config:
    """botocore ``Config`` for mediakit's S3 clients (path-style, SigV4, checksums, retries)."""
    return Config(**client_config_kwargs(settings))


def make_client(settings: Settings) -> S3Client:
    """A boto3 S3 client for ``settings`` (endpoint, region, credentials, :func:`make_client_config`)."""
    client: S3Client = boto3.session.Session().client(
        "s3", config=make_client_config(settings), **client_kwargs(settings)
    )
    return client


@attrs.define
class S3ObjectStore:
    """:class:`~mediakit.storage.ObjectStore` over a boto3 S3 client.

    boto3 clients are thread-safe, so one store serves every thread of a process.

    ``reader``: ranged reads (:meth:`get_range`, :meth:`open_range`: the Range proxy)
    as presigned GETs on a plain urllib3 pool instead of botocore (see
    :mod:`mediakit.storage._ranged_http`); :meth:`from_settings` sets one up unless
    ``MEDIA_S3_FAST_READS`` is off. Every other call goes through the boto3 client.
    :meth:`close` releases the reader's connections.
    """

    client: S3Client
    bucket: str
    part_size: int = 8 * 1024 * 1024
    """Multipart part size; streams that end within one part go up in a single PUT."""
    overlapping_uploads: int = 2
    """How many ``put_stream`` calls at a time send parts while reading the next (see
    :class:`~mediakit.storage._common.Overlap`)."""
    parts_in_flight: int = 4
    """How many parts one ``put_stream`` sends at once while it reads the next
    (``MEDIA_UPLOAD_PARTS_IN_FLIGHT``). The store has ``overlapping_uploads x
    parts_in_flight`` overlap slots, one per part in flight; an upload holds at most
    ``parts_in_flight + 1`` parts in memory (one filling), and one finding no free slot
    sends each part before reading on (one part)."""
    reader: RangedReader | None = attrs.field(default=None, kw_only=True)
    part_transport: PartTransport | None = attrs.field(default=None, kw_only=True)
    """Writes ``UploadPart`` bodies on mediakit's own connections instead of urllib3,
    each part straight from the request's chunks (see :mod:`mediakit.storage._part_http`);
    :meth:`from_settings` sets one up unless ``MEDIA_S3_FAST_UPLOADS`` is off. Build one
    with :meth:`fast_part_transport`. :meth:`close` closes its connections."""
    _overlap: Overlap = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._overlap = Overlap(self.overlapping_uploads * max(1, self.parts_in_flight))
        events = self.client.meta.events
        events.register(CONTENT_MD5_EVENT, add_content_md5, unique_id="mediakit-content-md5")
        if self.part_transport is not None:
            # the part's SHA-256 is computed by the thread that sends it, from its pieces
            events.register(
                "choose-signer.s3.UploadPart",
                cast(Any, _choose_prehashed),
                unique_id="mediakit-prehashed-parts",
            )
            self.part_transport.register(self.client, "mediakit-part-transport", asynchronous=False)

    @staticmethod
    def fast_part_transport(
        *, connect_timeout: float, read_timeout: float, pool_size: int
    ) -> PartTransport:
        """A :attr:`part_transport` with these timeouts (per connect, and per wait for
        the object store: a stalled send or answer) and at most ``pool_size`` pooled
        connections."""
        return PartTransport(
            connect_timeout=connect_timeout, read_timeout=read_timeout, pool_size=pool_size
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, bucket: str | None = None) -> S3ObjectStore:
        """A store on ``settings.assets_bucket`` (or ``bucket``) with a new client."""
        bucket = bucket or settings.assets_bucket
        return cls(
            client=make_client(settings),
            bucket=bucket,
            part_size=settings.multipart_part_size,
            parts_in_flight=settings.upload_parts_in_flight,
            reader=(
                RangedReader.from_settings(settings, bucket)
                if settings.s3_fast_reads and fast_path_allowed(settings)
                else None
            ),
            part_transport=PartTransport.from_settings(settings),
        )

    def close(self) -> None:
        """Close the ranged reader's and the part transport's pooled connections (the
        boto3 client needs nothing); the store stays usable."""
        if self.reader is not None:
            self.reader.close()
        if self.part_transport is not None:
            self.part_transport.close()

    def put_bytes(self, key: str, data: bytes | bytearray, *, content_type: str) -> ObjectInfo:
        """Store a small object in one ``PutObject``."""
        with translate_errors(key, bucket=self.bucket):
            resp = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,  # type: ignore[arg-type]  # botocore takes bytearray; the stubs omit it
                ContentType=content_type,
            )
        return put_info(key, len(data), resp["ETag"], content_type)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        """Store ``chunks``: one PUT if they fit one part, else a multipart upload.

        Parts are sent by helper threads while the next one is read from ``chunks`` (the
        client and S3 transfer at once, as boto3's own ``upload_fileobj`` does with its
        threads): up to :attr:`parts_in_flight` at once, each holding one of the store's
        overlap slots; with none free, a part is sent before reading on. Memory holds at
        most ``parts_in_flight + 1`` parts per upload (one without a slot) whatever the
        size. Parts are numbered in stream order and filled in place into reused buffers,
        sent without a copy. On any failure, including the caller's iterator raising (a
        size cap, a client disconnect), the parts not started are cancelled, the ones
        under way waited for, and the multipart upload aborted before the exception
        propagates unchanged.
        """
        # with the part transport, parts are the caller's own chunks (no copy at all);
        # urllib3 needs each part in one buffer, filled in place (one copy)
        asm: PartAssembler | PartGatherer = (
            PartAssembler(self.part_size, spares=self.parts_in_flight)
            if self.part_transport is None
            else PartGatherer(self.part_size)
        )
        it = iter(chunks)
        pending: list[bytearray] | list[GatheredPart] = []
        for chunk in it:
            pending = asm.feed(chunk)
            if pending:
                break
        if not pending:
            return self.put_bytes(key, asm.rest(), content_type=content_type)
        with translate_errors(key, bucket=self.bucket):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )["UploadId"]
        parts = UploadedParts(self.bucket, key, upload_id)
        try:
            self._send_parts(parts, asm, pending, it)
            resp = self._complete(parts, asm.total)
        except BaseException:
            # _send_parts has waited for the part in flight: nothing races the abort
            self._abort_quietly(key, upload_id)
            raise
        etag = resp.get("ETag") or ""
        if not has_etag(etag):
            etag = self._completed_etag(key)
        return put_info(key, asm.total, etag, content_type)

    def _send_parts(
        self,
        parts: UploadedParts,
        asm: PartAssembler | PartGatherer,
        pending: list[bytearray] | list[GatheredPart],
        it: Iterator[bytes],
    ) -> None:
        """Send ``pending`` and the parts of the rest of ``it``: up to
        :attr:`parts_in_flight` at once in helper threads while the next fills, each
        holding an overlap slot (with none free, a part is sent before reading on).
        Returns (or raises) once none is in flight: on any error, parts not started are
        cancelled and the running ones waited for, so nothing races the abort."""
        window = max(1, self.parts_in_flight)
        with ThreadPoolExecutor(window, thread_name_prefix="mediakit-upload-part") as pool:
            sender = _PartSender(self, parts, asm, pool, window)
            try:
                while pending:  # pop, so a sent part is freed before the next one fills
                    sender.send(pending.pop(0))
                for chunk in it:
                    pending = asm.feed(chunk)
                    while pending:
                        sender.send(pending.pop(0))
                rest = asm.rest()
                if rest:
                    sender.send(rest)
                sender.drain()
            finally:
                sender.cancel()  # failing: the executor waits for the running ones

    def _complete(self, parts: UploadedParts, size: int) -> Mapping[str, Any]:
        """``CompleteMultipartUpload``. Its answer can be lost after S3 has completed the
        upload (S3 may take seconds to assemble a large object: a read timeout, then
        botocore's retry), and the retry then finds no such upload. When the key holds
        an object of exactly the uploaded size (keys are never reused), that is what
        happened, and the upload is done; otherwise the error stands."""
        try:
            with translate_errors(parts.key, bucket=self.bucket, upload_id=parts.upload_id):
                return self.client.complete_multipart_upload(**parts.complete_request())
        except ObjectNotFound:
            try:
                done = self.head(parts.key)
            except ObjectNotFound:
                done = None
            if done is None or done.size != size:
                raise
            return {"ETag": done.etag}

    def _completed_etag(self, key: str) -> str:
        """The ETag of an upload completed without one (Ceph RGW answers an empty
        ``<ETag/>``): read back with a HEAD. Should the HEAD fail, the object is deleted,
        so a failed ``put_stream`` stores nothing, as on any other failure."""
        try:
            return self.head(key).etag
        except BaseException:
            with contextlib.suppress(Exception):
                self.delete(key)
            raise

    def _upload_part(self, parts: UploadedParts, request: dict[str, Any]) -> None:
        # Without the transport: a bytearray body is hashed (SigV4 over HTTP) and sent by
        # botocore and urllib3 without a copy, and without ``Expect: 100-continue``
        # (botocore adds it only to file-like bodies): no extra round trip per part.
        # With it: the part (gathered chunks) is hashed here, in the sending thread, and
        # written by the transport (which sends no ``Expect`` either).
        if self.part_transport is not None:
            body = _PartBody(request["Body"])
            body.sha256_hex = body.sha256_of_part()
            request = {**request, "Body": body}
        with translate_errors(parts.key, bucket=self.bucket, upload_id=parts.upload_id):
            parts.uploaded(request, self.client.upload_part(**request))

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        # The original error matters more; an upload left by a failed abort is listed
        # by list_multipart_uploads and cleaned there.
        with contextlib.suppress(Exception):
            self.abort_multipart_upload(key, upload_id)

    def head(self, key: str) -> ObjectInfo:
        """``HeadObject``; raises ``ObjectNotFound``."""
        with translate_errors(key, bucket=self.bucket):
            return head_info(key, self.client.head_object(Bucket=self.bucket, Key=key))

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = 256 * 1024
    ) -> Iterator[bytes]:
        """Stream ``span`` with an absolute ``Range: bytes=first-last`` (never a suffix range).

        The request is sent on the first ``next()``; errors surface there. Closing the
        generator early closes the response body and its connection.
        """
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if span is not None:
            kwargs["Range"] = range_header(span)
        if self.reader is not None:
            return self._read_ranged(key, kwargs.get("Range"), chunk_size)
        return self._stream(key, kwargs, chunk_size)

    def _read_ranged(
        self, key: str, range_value: str | None, chunk_size: int
    ) -> Generator[bytes, None, None]:
        assert self.reader is not None
        opened = self.reader.get(key, range_value, chunk_size=chunk_size)
        try:
            yield from opened.chunks
        finally:
            opened.chunks.close()

    def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = 256 * 1024
    ) -> OpenedRange:
        """One ``GetObject`` (``Range: bytes=first-[last]``), returned once its headers are in.

        See :meth:`~mediakit.storage.RangeOpener.open_range`. The info comes from the
        response headers (``Content-Range`` for the size); close ``chunks`` to drop the
        connection when the body is not read to the end.
        """
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        header = open_range_header(first, last)
        if header is not None:
            kwargs["Range"] = header
        if self.reader is not None:
            return self.reader.get(key, header, chunk_size=chunk_size)
        with translate_errors(key, bucket=self.bucket):
            resp = self.client.get_object(**kwargs)
        body = resp["Body"]
        try:
            info, span = get_info(key, resp)
        except BaseException:
            body.close()
            raise
        return OpenedRange(info, span, _BodyChunks(self._read_body(key, body, chunk_size), body))

    def _read_body(self, key: str, body: Any, chunk_size: int) -> Generator[bytes, None, None]:
        with translate_errors(key, bucket=self.bucket):
            yield from body.iter_chunks(chunk_size)

    def _stream(self, key: str, kwargs: dict[str, Any], chunk_size: int) -> Iterator[bytes]:
        with translate_errors(key, bucket=self.bucket):
            body = self.client.get_object(**kwargs)["Body"]
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

    def delete(self, key: str) -> None:
        """``DeleteObject``; deleting a missing key is not an error."""
        with translate_errors(key, bucket=self.bucket):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Sequence[str]) -> None:
        """``DeleteObjects`` (Quiet) in batches of 1000; per-key errors are retried."""
        for request in delete_requests(self.bucket, keys):
            if request.delay:
                time.sleep(request.delay)
            with translate_errors(bucket=self.bucket):
                request.response = self.client.delete_objects(**request.kwargs)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` (``ListObjectsV2``, paginated, lexicographic)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        with translate_errors(prefix, bucket=self.bucket):
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield obj["Key"]

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUploadInfo]:
        """Unfinished multipart uploads under ``prefix`` (paginated)."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        with translate_errors(prefix, bucket=self.bucket):
            return [
                MultipartUploadInfo(key=u["Key"], upload_id=u["UploadId"], initiated=u["Initiated"])
                for page in pages
                for u in page.get("Uploads", ())
                if u["Key"].startswith(prefix)  # some servers (nanio) ignore Prefix
            ]

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """``AbortMultipartUpload``; an upload that no longer exists is not an error."""
        try:
            with translate_errors(key, bucket=self.bucket, upload_id=upload_id):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ObjectNotFound:
            pass

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (embedded and development setups only)."""
        try:
            with translate_errors(bucket=self.bucket):
                self.client.head_bucket(Bucket=self.bucket)
            return
        except ObjectNotFound:
            pass
        region = self.client.meta.region_name
        with translate_errors(bucket=self.bucket):
            if region and region != "us-east-1":
                self.client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
            else:
                self.client.create_bucket(Bucket=self.bucket)


class _BodyChunks:
    """The chunks of a response body; ``close()`` releases the body even if iteration
    never started (closing an unstarted generator would not run its ``finally``)."""

    def __init__(self, chunks: Generator[bytes, None, None], body: Any) -> None:
        self._chunks, self._body = chunks, body

    def __iter__(self) -> _BodyChunks:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self._body.close()
            raise

    def close(self) -> None:
        """Close the body and its connection (idempotent)."""
        self._chunks.close()
        self._body.close()


class _PartSender:
    """The parts one ``put_stream`` has in flight (oldest first), each holding a slot
    of the store's :class:`~mediakit.storage._common.Overlap`."""

    def __init__(
        self,
        store: S3ObjectStore,
        parts: UploadedParts,
        asm: PartAssembler | PartGatherer,
        pool: ThreadPoolExecutor,
        window: int,
    ) -> None:
        self.store, self.parts, self.asm, self.pool, self.window = store, parts, asm, pool, window
        self.in_flight: deque[tuple[Future[None], bytearray | GatheredPart]] = deque()

    def send(self, part: bytearray | GatheredPart) -> None:
        """Send ``part`` in a helper thread once the window has room (in this thread,
        after ours, when the store has no free slot)."""
        # numbered here, in order: the helper threads may start them in any order
        request = self.parts.upload_request(part)
        in_flight = self.in_flight
        while in_flight and (len(in_flight) >= self.window or in_flight[0][0].done()):
            self.finish_oldest()
        if any(f.done() and f.exception() is not None for f, _ in in_flight):
            self.finish_oldest()  # a later part failed: stop now (raises)
        overlap = self.store._overlap
        if not overlap.take():
            self.drain()  # no slot: ours are freed first
            if not overlap.take():  # other uploads hold them: send in turn
                self.asm.drop_spares()  # and hold one part, as they do
                self.store._upload_part(self.parts, request)
                self.asm.release(part)
                return
        future = self.pool.submit(self.store._upload_part, self.parts, request)
        in_flight.append((future, part))

    def finish_oldest(self) -> None:
        """Wait for the oldest part in flight; raise its error."""
        future, part = self.in_flight.popleft()
        try:
            future.result()
        finally:
            self.store._overlap.give_back()
        self.asm.release(part)

    def drain(self) -> None:
        """Wait for every part in flight."""
        while self.in_flight:
            self.finish_oldest()

    def cancel(self) -> None:
        """Cancel the parts not started and give back every slot (the pool's owner
        waits for the running ones)."""
        while self.in_flight:
            future, _ = self.in_flight.popleft()
            future.cancel()
            self.store._overlap.give_back()
