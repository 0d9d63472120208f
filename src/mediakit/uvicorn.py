"""uvicorn's httptools protocol without three of its four copies of every body byte.

uvicorn (0.29 to at least 0.55) copies a request body four times before the app sees it:
uvloop makes a ``bytes`` of each socket read, httptools a ``bytes`` of each body slice,
uvicorn appends that to a ``bytearray`` and each ASGI ``receive()`` turns the
``bytearray`` into ``bytes`` again. For an upload route that is most of what the server
spends receiving: on the benchmark machine a bare ASGI app reading 256 MiB bodies costs
1.3-1.6 s of CPU per GiB on uvicorn's protocol and 0.5-0.6 s on this one (with 256 KiB reads) (with a
python-multipart parse, 2.0-2.2 s against 1.0-1.4 s; ``benchmarks/routes.py`` measures
mediakit's whole upload route).

:class:`HttpToolsProtocol` is an ``asyncio.BufferedProtocol`` in front of uvicorn's own
protocol: the event loop reads the socket into a buffer of the protocol's (one per thread,
see :class:`_ReadBuffer`), httptools parses it there, and the body slices httptools makes
are kept by reference (:class:`BodyPieces`); ``receive()`` gets the lone piece as it is,
or several joined once. Flow control is uvicorn's own: reading pauses once more than
64 KiB wait, as before, so memory stays as flat. Everything else (parsing, keep-alive,
pipelining, ``Expect: 100-continue``, upgrades, disconnects, TLS, the response) is
uvicorn's code, untouched.

Use it where uvicorn is started::

    uvicorn app:app --http mediakit.uvicorn:HttpToolsProtocol

    uvicorn.run(app, http=mediakit.uvicorn.http_protocol())

:func:`http_protocol` returns the class when httptools is installed and the running
uvicorn keeps its body the way described above, and ``"auto"`` otherwise (uvicorn's own
choice), so a start-up never fails because of it. Why mediakit carries this at all:
streaming uploads at the speed of boto3's own ``upload_fileobj`` is one of its promises,
and on uvicorn that was out of reach with the body copied four times on the way in.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from functools import cache
from typing import Any

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT

__all__ = ["BodyPieces", "http_protocol"]  # and HttpToolsProtocol, built on first use


class BodyPieces:
    """The body read since the last ``receive()``: the pieces httptools made, by reference.

    Stands in for uvicorn's ``bytearray``: ``len()`` is the byte count its flow control
    asks for, and ``bytes()`` (what uvicorn's ``receive()`` calls) is the single piece
    itself, no copy, or the pieces joined once."""

    __slots__ = ("_pieces", "_size")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._size = 0

    def append(self, piece: bytes) -> None:
        """Keep ``piece`` (a ``bytes`` nobody else changes) as the next part of the body."""
        self._pieces.append(piece)
        self._size += len(piece)

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        pieces = self._pieces
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)


def _compatible() -> bool:
    """Whether the installed uvicorn keeps the body as this module expects: ``on_body``
    appends to ``cycle.body`` and ``receive()`` sends ``bytes(self.body)`` and starts a
    new one. Read from its source once, so that a uvicorn that changed either falls
    back to its own protocol instead of misbehaving."""
    try:
        from uvicorn.protocols.http import httptools_impl
    except ImportError:  # httptools is not installed
        return False
    try:
        on_body = inspect.getsource(httptools_impl.HttpToolsProtocol.on_body)
        receive = inspect.getsource(httptools_impl.RequestResponseCycle.receive)
        data_received = inspect.getsource(httptools_impl.HttpToolsProtocol.data_received)
    except (OSError, TypeError, AttributeError):  # no source (e.g. a frozen install)
        return False
    return (
        "self.parser.feed_data(data)" in data_received
        and "data[" not in data_received  # feeds the parser only, keeps nothing
        and "self.cycle.body += body" in on_body
        and "bytes(self.body)" in receive
        and "self.body = bytearray()" in receive
    )


class _ReadBuffer(threading.local):
    """One 1 MiB read buffer per event-loop thread, shared by its connections.

    With ``get_buffer``/``buffer_updated`` (``asyncio.BufferedProtocol``) the event loop
    reads the socket straight into it, where uvloop would otherwise make a new ``bytes``
    of every read (a copy, and an allocation per read). Sharing is safe because an
    event loop asks for the buffer, reads into it and reports the read in one step, for
    one connection at a time, and the protocol parses the bytes (httptools copying what
    it keeps) before it returns; a buffer per connection would hold 1 MiB per idle
    keep-alive connection instead."""

    def __init__(self) -> None:
        self._view: memoryview | None = None

    def view(self) -> memoryview:
        """This thread's buffer (made on first use)."""
        if self._view is None:
            self._view = memoryview(bytearray(READ_BUFFER_SIZE))
        return self._view


READ_BUFFER_SIZE = 1024 * 1024
"""Bytes one socket read may bring.

Why 1 MiB rather than uvloop's own 256 KiB: an upload's body reaches the app one read at
a time, and each read costs the same Python work (the ASGI ``receive()``, the multipart
parser's step, the part gatherer) whatever its size. During an upload the socket holds
more than 256 KiB at nearly every read, so a larger buffer means fewer, larger reads for
the same bytes: on the benchmark machine, 256 MiB uploads through the track route cost
3.49 s of server CPU per GiB with 256 KiB reads and 2.94 s with 1 MiB ones on FastAPI,
3.36 s against 2.46 s on Django under uvicorn (two servers side by side, their
rounds interleaved with boto3's ``upload_fileobj``). 2 and 4 MiB gained no more. A small
request is still one read of what arrived."""

_READ_BUFFER = _ReadBuffer()


def _body_pieces_class() -> type[Any]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base

    class BodyPiecesProtocol(_Base):
        """uvicorn's httptools protocol keeping the request body's pieces by reference."""

        def on_body(self, body: bytes) -> None:
            """Keep ``body`` (httptools' own copy of the bytes read) for the next
            ``receive()``; pause reading past uvicorn's 64 KiB high-water mark."""
            cycle: Any = self.cycle  # its ``body`` is a bytearray as uvicorn types it
            if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
                return
            pieces = cycle.body
            if type(pieces) is not BodyPieces:  # a fresh cycle or a receive() since
                held = bytes(pieces)
                pieces = cycle.body = BodyPieces()
                if held:
                    pieces.append(held)
            pieces.append(body)
            if len(pieces) > HIGH_WATER_LIMIT:
                self.flow.pause_reading()
            cycle.message_event.set()

    return BodyPiecesProtocol


def _protocol_class() -> type[Any]:
    body_pieces_protocol = _body_pieces_class()

    class HttpToolsProtocol(asyncio.BufferedProtocol):
        """uvicorn's httptools protocol reading into a buffer of its own and keeping the
        request body's pieces by reference (see :mod:`mediakit.uvicorn`).

        A ``BufferedProtocol`` in front of uvicorn's protocol, which does all the HTTP:
        uvloop reads into a protocol's buffer only when the protocol is no
        ``asyncio.Protocol``, and uvicorn's is one."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.http = body_pieces_protocol(*args, **kwargs)
            """uvicorn's protocol, serving the connection."""
            self._parse = self.http.data_received

        def connection_made(self, transport: Any) -> None:
            """Hand the connection to uvicorn's protocol."""
            self.http.connection_made(transport)

        def get_buffer(self, sizehint: int) -> memoryview:
            """Where the event loop reads the socket's next bytes: the thread's read
            buffer (see :class:`_ReadBuffer`)."""
            return _READ_BUFFER.view()

        def buffer_updated(self, nbytes: int) -> None:
            """Parse the ``nbytes`` just read; httptools copies all it keeps (the URL,
            the headers, each body slice), so the buffer is free again on return."""
            read: Any = _READ_BUFFER.view()[:nbytes]  # httptools parses any buffer
            self._parse(read)

        def data_received(self, data: bytes) -> None:
            """Bytes handed over directly (not read into the buffer)."""
            self._parse(data)

        def eof_received(self) -> bool | None:
            """The client closed its side: as uvicorn's protocol decides."""
            keep_open: bool | None = self.http.eof_received()
            return keep_open

        def connection_lost(self, exc: Exception | None) -> None:
            """The connection is gone: uvicorn's protocol cleans up."""
            self.http.connection_lost(exc)

        def pause_writing(self) -> None:
            """The transport's write buffer is full."""
            self.http.pause_writing()

        def resume_writing(self) -> None:
            """The transport's write buffer drained."""
            self.http.resume_writing()

    for cls in (body_pieces_protocol, HttpToolsProtocol):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    return HttpToolsProtocol


@cache
def http_protocol() -> type[Any] | str:
    """The protocol to pass as uvicorn's ``http``: :class:`HttpToolsProtocol` when
    httptools is installed and the installed uvicorn keeps the body as expected,
    otherwise ``"auto"`` (uvicorn's own choice)."""
    return _protocol_class() if _compatible() else "auto"


def __getattr__(name: str) -> Any:
    # ``--http mediakit.uvicorn:HttpToolsProtocol`` asks for the class by name; built on
    # first use, so importing this module never needs httptools.
    if name == "HttpToolsProtocol":
        chosen = http_protocol()
        if isinstance(chosen, str):
            raise ImportError(
                "mediakit.uvicorn.HttpToolsProtocol needs httptools (pip install "
                "'uvicorn[standard]') and a uvicorn whose httptools protocol keeps the "
                "request body in a bytearray (0.29 to 0.55 do); run uvicorn with "
                "--http httptools instead"
            )
        return chosen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
