"""What the sync and async multipart readers share: the Content-Type check, the
sans-I/O decoder (python-multipart's push parser turned into a queue of events, the
budget enforced on every callback) and the parts' common state. See
:mod:`mediakit.uploads.multipart` for the design; the readers themselves are written once
in ``_async.py`` and generated into ``_sync.py`` by ``scripts/unasync.py``."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import IO, Final

import attrs
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from mediakit.errors import BadRequest, UnsupportedMediaType
from mediakit.uploads.limits import UploadBudget, UploadLimits

__all__ = ["DEFAULT_CHUNK_SIZE", "FormField", "iter_file", "parse_boundary"]

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
