# GENERATED from src/mediakit/uploads/multipart/_async.py by scripts/unasync.py: do not edit.
# Edit the async source and run `python scripts/unasync.py` (CI checks this file is fresh).
"""The multipart readers' I/O: pull body chunks, feed the decoder, hand out form items
(see :mod:`mediakit.uploads.multipart` for the design). Written once, over an
asynchronous body, in ``_async.py``; the sync twin ``_sync.py`` is generated from it by
``scripts/unasync.py``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mediakit.uploads.limits import UploadBudget, UploadLimits
from mediakit.uploads.multipart._common import (
    _END,
    _PART_END,
    FormField,
    _decode,
    _Event,
    _FilePartBase,
    _make_decoder,
    _PartStart,
)
from mediakit.uploads.sniff import SNIFF_BYTES

__all__ = ["FilePart", "MultipartReader"]


class FilePart(_FilePartBase):
    """One file of a multipart body, read lazily from the request."""

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
    """Read a ``multipart/form-data`` body (an ``Iterable`` of byte chunks) as form items.

    Construction checks the Content-Type and a declared Content-Length (refused above
    the request cap before anything is read); iteration yields :class:`FormField` and
    :class:`FilePart` items in body order, enforcing ``limits`` as bytes arrive.
    The body of the async reader is Starlette's ``request.stream()``, an ASGI receive
    loop...; of the sync reader, a WSGI input or Django's ``request`` read by
    :func:`~mediakit.uploads.multipart.iter_file`.

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
