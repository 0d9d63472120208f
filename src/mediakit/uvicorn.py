"""uvicorn's httptools protocol with a request body that is not copied twice over.

uvicorn (0.29 to at least 0.55) keeps the request body it has read in a ``bytearray``: each
piece httptools hands over is appended to it (a copy) and each ASGI ``receive()`` turns
it into ``bytes`` (another copy). For an upload route those two copies are a third of the
server's CPU before the app sees a byte: on the benchmark machine a server that discards
a 256 MiB body spends 1.7-2.1 s of CPU per GiB with uvicorn's protocol and 0.8-1.2 s with
this one (``benchmarks/routes.py`` measures the whole upload route).

:class:`HttpToolsProtocol` keeps the pieces instead, by reference (httptools already made
each one a ``bytes`` of its own), and ``receive()`` gets them as they are: the piece
itself when one arrived since the last ``receive()``, else one join. Flow control is
uvicorn's own: reading pauses once more than 64 KiB wait, as before, so memory stays
as flat. Everything else (parsing, keep-alive, pipelining, ``Expect: 100-continue``,
upgrades, disconnects, the response) is uvicorn's code, untouched.

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

import inspect
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
    except (OSError, TypeError, AttributeError):  # no source (e.g. a frozen install)
        return False
    return (
        "self.cycle.body += body" in on_body
        and "bytes(self.body)" in receive
        and "self.body = bytearray()" in receive
    )


def _protocol_class() -> type[Any]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base

    class HttpToolsProtocol(_Base):
        """uvicorn's httptools protocol keeping the request body's pieces by reference
        (see :mod:`mediakit.uvicorn`)."""

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

    HttpToolsProtocol.__module__ = __name__
    HttpToolsProtocol.__qualname__ = "HttpToolsProtocol"
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
