"""The multipart readers' I/O: pull body chunks, feed the decoder, hand out form items
(see :mod:`mediakit.uploads.multipart` for the design). Written once, over an
asynchronous body, in ``_async.py``; the sync twin ``_sync.py`` is generated from it by
``scripts/unasync.py``."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

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

__all__ = ["AsyncFilePart", "AsyncMultipartReader"]


class AsyncFilePart(_FilePartBase):
    """One file of a multipart body, read lazily from the request."""

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
        """The first ``n`` bytes (fewer if the file is shorter), buffered for :meth:`chunks`."""
        if self._started:
            raise RuntimeError("read_head() must come before chunks()")
        while len(self._head) < n and (data := await self._next_data()) is not None:
            self._head += data
        return bytes(self._head[:n])

    async def chunks(self) -> AsyncIterator[bytes]:
        """Every byte of the file, in chunks as they arrive; can be called once."""
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
    """Read a ``multipart/form-data`` body (an ``AsyncIterable`` of byte chunks) as form items.

    Construction checks the Content-Type and a declared Content-Length (refused above
    the request cap before anything is read); iteration yields :class:`FormField` and
    :class:`AsyncFilePart` items in body order, enforcing ``limits`` as bytes arrive.
    The body of the async reader is Starlette's ``request.stream()``, an ASGI receive
    loop...; of the sync reader, a WSGI input or Django's ``request`` read by
    :func:`~mediakit.uploads.multipart.iter_file`.

    >>> reader = AsyncMultipartReader(chunks, content_type=ct, content_length=cl, limits=limits)  # doctest: +SKIP
    >>> async for item in reader: ...  # doctest: +SKIP
    """

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
                continue  # data of a part the caller skipped
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
