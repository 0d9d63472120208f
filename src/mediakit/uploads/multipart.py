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

Errors: :class:`~mediakit.errors.BadRequest` for malformed or truncated bodies and for
too many files/fields, :class:`~mediakit.errors.UploadTooLarge` for size caps,
:class:`~mediakit.errors.UnsupportedMediaType` when the request is not
``multipart/form-data``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import IO, Final

import attrs
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from mediakit.errors import BadRequest, UnsupportedMediaType
from mediakit.uploads.limits import UploadBudget, UploadLimits
from mediakit.uploads.sniff import SNIFF_BYTES

__all__ = [
    "AsyncFilePart",
    "AsyncMultipartReader",
    "FilePart",
    "FormField",
    "MultipartReader",
    "iter_file",
    "parse_boundary",
]

DEFAULT_CHUNK_SIZE = 256 * 1024
"""Chunk size used by :func:`iter_file` when reading a file-like request body."""


def iter_file(f: IO[bytes], chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes of a file-like body (a WSGI input, Django's ``request``) in chunks."""
    while chunk := f.read(chunk_size):
        yield chunk


def parse_boundary(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type header.

    Raises:
        UnsupportedMediaType: the request is not ``multipart/form-data``.
        BadRequest: the boundary is missing or invalid.
    """
    ctype, params = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data":
        shown = content_type or "no Content-Type"
        raise UnsupportedMediaType(
            f"Uploads must be sent as multipart/form-data with the files in the field "
            f"'files'; this request is {shown}."
        )
    boundary = params.get(b"boundary", b"")
    # RFC 2046 5.1.1: 1 to 70 characters.
    if not 1 <= len(boundary) <= 70:
        raise BadRequest("The multipart/form-data Content-Type has no valid boundary parameter.")
    return boundary


@attrs.frozen
class FormField:
    """A plain (non-file) form field, read into memory (its size is capped)."""

    name: str
    value: str


@attrs.frozen
class _PartStart:
    name: str
    filename: str | None
    content_type: str


_PART_END: Final = object()
_END: Final = object()
_Event = _PartStart | bytes | object


def _decode(raw: bytes) -> str:
    # Browsers send UTF-8 file names raw in the header; anything else is kept readable.
    return raw.decode("utf-8", errors="replace")


@attrs.define
class _Decoder:
    """Sans-I/O core: bytes in, events out, budget enforced on every callback."""

    budget: UploadBudget
    boundary: bytes
    events: deque[_Event] = attrs.field(factory=deque)
    finished: bool = False
    _parser: MultipartParser = attrs.field(init=False)
    _header_name: bytearray = attrs.field(factory=bytearray)
    _header_value: bytearray = attrs.field(factory=bytearray)
    _headers: dict[str, bytes] = attrs.field(factory=dict)
    _in_file: bool = False
    _field_name: str = ""

    def __attrs_post_init__(self) -> None:
        self._parser = MultipartParser(
            self.boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        self.budget.add_body(len(chunk))
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise BadRequest(f"The multipart/form-data body is malformed: {exc}") from exc

    def feed_eof(self) -> None:
        if not self.finished:
            where = (
                f" while {self.budget.current_file!r} was being sent"
                if self.budget.current_file
                else ""
            )
            raise BadRequest(
                f"The request body ended before the multipart/form-data message was complete{where} "
                "(the client disconnected or sent a truncated body)."
            )

    # --- parser callbacks ---------------------------------------------------------
    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_name).decode("latin-1").strip().lower()] = bytes(
            self._header_value
        )
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        disposition = self._headers.get("content-disposition", b"").decode("latin-1")
        kind, params = parse_options_header(disposition)
        if kind != b"form-data" or b"name" not in params:
            raise BadRequest("A multipart part has no 'Content-Disposition: form-data; name=...'.")
        name = _decode(params[b"name"])
        raw_filename = params.get(b"filename")
        ctype = self._headers.get("content-type", b"application/octet-stream").decode("latin-1")
        if raw_filename is None:
            self.budget.start_field(name)
            self._in_file = False
            self._field_name = name
            self.events.append(_PartStart(name, None, ctype))
        else:
            filename = _decode(raw_filename)
            self.budget.start_file(filename)
            self._in_file = True
            self.events.append(_PartStart(name, filename, ctype))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.budget.add_file_bytes(end - start)
        else:
            self.budget.add_field_bytes(self._field_name, end - start)
        self.events.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_file:
            self.budget.end_file()
        self.events.append(_PART_END)

    def _on_end(self) -> None:
        self.finished = True
        self.events.append(_END)


def _make_decoder(
    content_type: str | None,
    content_length: int | str | None,
    limits: UploadLimits,
    budget: UploadBudget | None,
) -> _Decoder:
    budget = budget if budget is not None else limits.budget()
    boundary = parse_boundary(content_type)
    budget.check_content_length(content_length)
    return _Decoder(budget, boundary)


class _FilePartBase:
    """What sync and async file parts share."""

    field_name: str
    """The form field (``files`` for mediakit's endpoints)."""
    filename: str
    """The client's file name, as sent: metadata only, never a path or a key."""
    declared_type: str
    """The client's Content-Type for the part: informative only, never trusted."""

    def __init__(self, start: _PartStart) -> None:
        self.field_name = start.name
        self.filename = start.filename or ""
        self.declared_type = start.content_type
        self.size = 0
        """Bytes handed out by :meth:`chunks` so far (the file's size once consumed)."""
        self._head = bytearray()
        self._done = False
        self._started = False

    def _take_chunks(self) -> None:
        if self._started:
            raise RuntimeError(f"the body of {self.filename!r} can only be read once")
        self._started = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(field_name={self.field_name!r}, filename={self.filename!r})"


class FilePart(_FilePartBase):
    """One file of a multipart body, read lazily from the request (sync)."""

    def __init__(self, reader: MultipartReader, start: _PartStart) -> None:
        super().__init__(start)
        self._reader = reader

    def _next_data(self) -> bytes | None:
        if self._done:
            return None
        ev = self._reader._next_event()
        if ev is _PART_END:
            self._done = True
            return None
        assert isinstance(ev, bytes)
        return ev

    def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes (fewer if the file is shorter), buffered for :meth:`chunks`."""
        if self._started:
            raise RuntimeError("read_head() must come before chunks()")
        while len(self._head) < n and (data := self._next_data()) is not None:
            self._head += data
        return bytes(self._head[:n])

    def chunks(self) -> Iterator[bytes]:
        """Every byte of the file, in chunks as they arrive; can be called once."""
        self._take_chunks()
        if self._head:
            head = bytes(self._head)
            self._head = bytearray()
            self.size += len(head)
            yield head
        while (data := self._next_data()) is not None:
            self.size += len(data)
            yield data

    def _drain(self) -> None:
        self._head = bytearray()
        while self._next_data() is not None:
            pass


class MultipartReader:
    """Read a ``multipart/form-data`` body (an iterable of byte chunks) as form items.

    Construction checks the Content-Type and a declared Content-Length (refused above
    the request cap before anything is read); iteration yields :class:`FormField` and
    :class:`FilePart` items in body order, enforcing ``limits`` as bytes arrive.

    >>> reader = MultipartReader(chunks, content_type=ct, content_length=cl, limits=limits)  # doctest: +SKIP
    >>> for item in reader: ...  # doctest: +SKIP
    """

    def __init__(
        self,
        body: Iterable[bytes],
        *,
        content_type: str | None,
        content_length: int | str | None = None,
        limits: UploadLimits,
        budget: UploadBudget | None = None,
    ) -> None:
        self._decoder = _make_decoder(content_type, content_length, limits, budget)
        self._body = iter(body)
        self.budget = self._decoder.budget
        """The request's budget (bytes, files and fields counted so far)."""

    def _next_event(self) -> _Event:
        dec = self._decoder
        while not dec.events:
            if dec.finished:
                return _END
            chunk = next(self._body, None)
            if chunk is None:
                dec.feed_eof()
                return _END
            if chunk:
                dec.feed(chunk if type(chunk) is bytes else bytes(chunk))
        return dec.events.popleft()

    def __iter__(self) -> Iterator[FormField | FilePart]:
        while (ev := self._next_event()) is not _END:
            if not isinstance(ev, _PartStart):
                continue  # data of a part the caller skipped
            if ev.filename is None:
                value = bytearray()
                while (data := self._next_event()) is not _PART_END:
                    if data is _END:
                        return
                    assert isinstance(data, bytes)
                    value += data
                yield FormField(ev.name, _decode(bytes(value)))
            else:
                part = FilePart(self, ev)
                yield part
                part._drain()


class AsyncFilePart(_FilePartBase):
    """One file of a multipart body, read lazily from the request (async)."""

    def __init__(self, reader: AsyncMultipartReader, start: _PartStart) -> None:
        super().__init__(start)
        self._reader = reader

    async def _next_data(self) -> bytes | None:
        if self._done:
            return None
        ev = await self._reader._next_event()
        if ev is _PART_END:
            self._done = True
            return None
        assert isinstance(ev, bytes)
        return ev

    async def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """See :meth:`FilePart.read_head`."""
        if self._started:
            raise RuntimeError("read_head() must come before chunks()")
        while len(self._head) < n and (data := await self._next_data()) is not None:
            self._head += data
        return bytes(self._head[:n])

    async def chunks(self) -> AsyncIterator[bytes]:
        """See :meth:`FilePart.chunks`."""
        self._take_chunks()
        if self._head:
            head = bytes(self._head)
            self._head = bytearray()
            self.size += len(head)
            yield head
        while (data := await self._next_data()) is not None:
            self.size += len(data)
            yield data

    async def _drain(self) -> None:
        self._head = bytearray()
        while await self._next_data() is not None:
            pass


class AsyncMultipartReader:
    """The async twin of :class:`MultipartReader` over an async iterable of chunks
    (Starlette's ``request.stream()``, an ASGI receive loop...)."""

    def __init__(
        self,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        content_length: int | str | None = None,
        limits: UploadLimits,
        budget: UploadBudget | None = None,
    ) -> None:
        self._decoder = _make_decoder(content_type, content_length, limits, budget)
        self._body = aiter(body)
        self.budget = self._decoder.budget
        """The request's budget (bytes, files and fields counted so far)."""

    async def _next_event(self) -> _Event:
        dec = self._decoder
        while not dec.events:
            if dec.finished:
                return _END
            chunk = await anext(self._body, None)
            if chunk is None:
                dec.feed_eof()
                return _END
            if chunk:
                dec.feed(chunk if type(chunk) is bytes else bytes(chunk))
        return dec.events.popleft()

    async def __aiter__(self) -> AsyncIterator[FormField | AsyncFilePart]:
        while (ev := await self._next_event()) is not _END:
            if not isinstance(ev, _PartStart):
                continue
            if ev.filename is None:
                value = bytearray()
                while (data := await self._next_event()) is not _PART_END:
                    if data is _END:
                        return
                    assert isinstance(data, bytes)
                    value += data
                yield FormField(ev.name, _decode(bytes(value)))
            else:
                part = AsyncFilePart(self, ev)
                yield part
                await part._drain()
