"""Reading a request body under gunicorn without its buffer copies.

gunicorn (23 to at least 27) hands a WSGI app a ``wsgi.input`` that copies each body byte
four times in Python before the app sees it: its socket reader appends every ``recv()``
to a ``BytesIO`` and takes it out again (two copies), and the ``Body`` object in front
does the same (two more). On the benchmark machine, reading a 256 MiB body in 1 MiB
``read()`` calls from a socket costs 0.8-1.1 s of CPU per GiB through gunicorn's
``Body`` and 0.1-0.2 s with the same ``recv()`` calls made directly; for an upload route
that is about a third of the server's CPU (``python -m benchmarks.routes --only upload``
measures the whole route on gunicorn).

:func:`body_reader` returns a ``read(size)`` function over the same body that takes the
bytes gunicorn has already buffered first, then calls ``recv()`` on the connection's
socket itself, and keeps gunicorn's own count of what is left of the body up to date,
so gunicorn sees the body as read (keep-alive and pipelining are untouched). It does
this only for a body of known length (``Content-Length``) read through gunicorn's own
classes, in the shape this module knows; anything else (a chunked body, another server,
a gunicorn whose classes changed) gets ``None`` and is read through ``wsgi.input`` as
usual.

.. code-block:: python

    from mediakit import gunicorn


    def app(environ, start_response):
        read = gunicorn.body_reader(environ["wsgi.input"]) or environ["wsgi.input"].read
        while chunk := read(1024 * 1024):
            ...

Why mediakit carries this: streaming uploads at the speed of boto3's own
``upload_fileobj`` is one of its promises, and under gunicorn the body's copies were the
largest cost of the upload route beyond hashing and the kernel's own copies.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["body_reader"]


def body_reader(wsgi_input: object) -> Callable[[int], bytes] | None:
    """A ``read(size)`` straight off gunicorn's socket for ``wsgi_input``, or ``None``.

    ``wsgi_input`` must be gunicorn's ``Body`` over a ``LengthReader`` over a
    ``SocketUnreader`` (a request with a ``Content-Length`` under any of gunicorn's
    workers) and must not have been read from by anyone else in a way this function
    cannot follow; otherwise the answer is ``None`` and the caller reads ``wsgi_input``
    itself. ``read(size)`` returns at most ``size`` bytes (``size`` > 0), fewer when less
    has arrived, and ``b""`` at the end of the body (or when the client closed the
    connection early); socket errors propagate as from ``wsgi.input``, and gunicorn then
    closes the connection instead of reusing it. Reads through ``wsgi_input`` and through
    the returned function may be mixed: both follow gunicorn's buffers and count.
    """
    body_module = sys.modules.get("gunicorn.http.body")
    unreader_module = sys.modules.get("gunicorn.http.unreader")
    if body_module is None or unreader_module is None:  # not running under gunicorn
        return None
    if type(wsgi_input) is not getattr(body_module, "Body", None):
        return None
    reader = getattr(wsgi_input, "reader", None)
    if type(reader) is not getattr(body_module, "LengthReader", None):
        return None
    unreader = getattr(reader, "unreader", None)
    if type(unreader) is not getattr(unreader_module, "SocketUnreader", None):
        return None
    if not (
        isinstance(getattr(wsgi_input, "buf", None), io.BytesIO)
        and isinstance(getattr(unreader, "buf", None), io.BytesIO)
        and isinstance(getattr(reader, "length", None), int)
        and callable(getattr(getattr(unreader, "sock", None), "recv", None))
    ):
        return None
    return _SocketBody(wsgi_input, reader, unreader).read


class _SocketBody:
    """The rest of one gunicorn request body, read as :func:`body_reader` describes."""

    def __init__(self, body: Any, reader: Any, unreader: Any) -> None:
        self._body = body
        self._reader = reader
        self._unreader = unreader

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body; ``b""`` at its end."""
        if size <= 0:
            return b""
        # Bytes gunicorn's Body holds were already counted off the body's length.
        held = _take(self._body, "buf", size)
        if held:
            return held
        reader = self._reader
        left = reader.length
        if left <= 0:
            return b""
        want = min(size, left)
        # Read ahead by gunicorn's socket reader (with the request's head, say): they
        # count off the body's length once taken, as gunicorn's own reader does.
        data = _take(self._unreader, "buf", want)
        if not data:
            try:
                data = self._unreader.sock.recv(want)
            except BaseException:
                # as gunicorn's Body marks it: the connection's position is lost
                self._body.failed = True
                raise
        reader.length = left - len(data)
        return data


def _take(owner: Any, name: str, size: int) -> bytes:
    """Up to ``size`` bytes from the front of ``owner``'s ``BytesIO`` buffer ``name``,
    the rest left in a fresh buffer (how gunicorn's own classes consume theirs)."""
    buf: io.BytesIO = getattr(owner, name)
    if not buf.seek(0, io.SEEK_END):  # empty (gunicorn keeps its buffers at their end)
        return b""
    data = buf.getvalue()
    rest = io.BytesIO()
    rest.write(data[size:])
    setattr(owner, name, rest)
    return data[:size]
