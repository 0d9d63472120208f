"""Streaming ``multipart/form-data`` reading with the upload budget enforced as bytes arrive.

The byte-level parsing is python-multipart's :class:`python_multipart.MultipartParser`
(the parser Starlette and FastAPI use); this module only turns its push callbacks into a
pull interface and does the accounting.

Design: pipelined, not spooled. A :class:`FilePart` is a *lazy view* on the request
body: iterating :meth:`FilePart.chunks` pulls the next body chunk from the client, feeds
the parser and hands the part's bytes straight on, so ``ObjectStore.put_stream`` reads
the file while the client is still sending it. Memory per request is one body chunk, the
sniffing head (:data:`~mediakit.uploads.sniff.SNIFF_BYTES` plus at most one chunk) and
whatever the store buffers for one multipart part; nothing touches the local disk.

Why not spool each file to a ``SpooledTemporaryFile`` first? It writes and re-reads every
byte through the local disk (a 4 GiB file needs 4 GiB of temp space and doubles the I/O)
and only starts the upload once the client has finished sending, so the request takes
the sum of both transfers instead of the longer of them. Pipelining needs two things to
be correct, and both hold: (1) the sniff decision is made on the head *before* the first
byte is written to the store, and (2) every failure while streaming (cap crossed, client
gone, malformed body) surfaces as an exception inside ``put_stream``'s iteration, which
aborts the store's multipart upload; the ingest layer then deletes whatever earlier files
of the batch it had stored.

Parts must be consumed in order (the body is one stream): asking for the next item
skips (but still counts) whatever is left of the previous file part.

Layout: the Content-Type check, the sans-I/O decoder and what the parts share are in
``_common.py``; the readers are written once, async, in ``_async.py``, and the sync ones
are generated from them by ``scripts/unasync.py`` (``_sync.py``).

Errors: :class:`~mediakit.errors.BadRequest` for malformed or truncated bodies and for
too many files/fields, :class:`~mediakit.errors.UploadTooLarge` for size caps,
:class:`~mediakit.errors.UnsupportedMediaType` when the request is not
``multipart/form-data``.
"""

from __future__ import annotations

from mediakit.uploads.multipart._async import AsyncFilePart, AsyncMultipartReader
from mediakit.uploads.multipart._common import DEFAULT_CHUNK_SIZE as DEFAULT_CHUNK_SIZE
from mediakit.uploads.multipart._common import FormField, iter_file, parse_boundary
from mediakit.uploads.multipart._sync import FilePart, MultipartReader

__all__ = [
    "AsyncFilePart",
    "AsyncMultipartReader",
    "FilePart",
    "FormField",
    "MultipartReader",
    "iter_file",
    "parse_boundary",
]
