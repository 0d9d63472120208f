"""Tiny real apps over the proxy, served for real on 127.0.0.1, and store wrappers that
count open streams and inject faults.

* :func:`asgi_app`: Starlette used directly (``StreamingResponse``), run by uvicorn.
* :func:`wsgi_app`: a plain WSGI callable, run by wsgiref's threading server.
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import anyio
import attrs
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mediakit.errors import MediaKitError, StorageError, StorageUnavailable
from mediakit.http import content_disposition
from mediakit.proxy import open_async, open_sync
from mediakit.storage import (
    AsyncObjectStore,
    AsyncOpenedRange,
    AsyncRangeOpener,
    ByteSpan,
    ObjectInfo,
    ObjectStore,
    OpenedRange,
    RangeOpener,
)
from mediakit.storage._common import open_range_via_head
from tests.servers import free_port, wait_for_port

CHUNK = 64 * 1024
SLOW_DELAY = 0.003

# ---------------------------------------------------------------- fault injection


@attrs.define
class Probe:
    """Shared by a wrapper store and the test: faults to inject and what happened."""

    faults: dict[str, str] = attrs.field(factory=dict)
    """key -> "head" (fail HEAD), "first" (fail before the first chunk), "mid" (fail mid-body),
    "short" (end the stream early), "slow" (3 ms per chunk: a stream the client outpaces,
    so a disconnect is noticed long before the end)."""
    open_streams: int = 0
    opened: int = 0
    heads: int = 0
    """HEAD requests the proxy made."""
    bytes_read: dict[str, int] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def started(self) -> None:
        with self.lock:
            self.open_streams += 1
            self.opened += 1

    def finished(self) -> None:
        with self.lock:
            self.open_streams -= 1

    def read(self, key: str, n: int) -> None:
        with self.lock:
            self.bytes_read[key] = self.bytes_read.get(key, 0) + n

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.bytes_read.clear()
            self.opened = 0
            self.heads = 0


def _check_head(probe: Probe, key: str) -> None:
    with probe.lock:
        probe.heads += 1
    if probe.faults.get(key) == "head":
        raise StorageError("Injected: the object store answered HEAD with an error.")


def _check_open(probe: Probe, key: str) -> None:
    """Faults of a one-trip GET: "head" fails it as a HEAD would fail (the proxy then falls
    back to HEAD, which fails too), "first" as an unreachable store."""
    fault = probe.faults.get(key)
    if fault == "head":
        raise StorageError("Injected: the object store answered the GET with an error.")
    if fault == "first":
        raise StorageUnavailable("Injected: the object store is unreachable.")


class _ProbedChunks:
    """Sync chunks of a one-trip GET, counted and faulted like ``get_range``'s."""

    def __init__(self, probe: Probe, key: str, chunks: Any) -> None:
        self._probe, self._key, self._chunks = probe, key, chunks
        self._fault = probe.faults.get(key)
        self._index = 0
        self._open = True
        probe.started()

    def __iter__(self) -> _ProbedChunks:
        return self

    def __next__(self) -> bytes:
        if self._index == 2 and self._fault == "mid":
            raise StorageError("Injected: the connection to S3 broke mid-body.")
        if self._index == 2 and self._fault == "short":
            raise StopIteration
        chunk: bytes = next(self._chunks)
        if self._fault == "slow":
            time.sleep(SLOW_DELAY)
        self._index += 1
        self._probe.read(self._key, len(chunk))
        return chunk

    def close(self) -> None:
        self._chunks.close()
        if self._open:
            self._open = False
            self._probe.finished()


class _ProbedAsyncChunks:
    """The async twin of :class:`_ProbedChunks`."""

    def __init__(self, probe: Probe, key: str, chunks: Any) -> None:
        self._probe, self._key, self._chunks = probe, key, chunks
        self._fault = probe.faults.get(key)
        self._index = 0
        self._open = True
        probe.started()

    def __aiter__(self) -> _ProbedAsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._index == 2 and self._fault == "mid":
            raise StorageError("Injected: the connection to S3 broke mid-body.")
        if self._index == 2 and self._fault == "short":
            raise StopAsyncIteration
        chunk: bytes = await anext(self._chunks)
        if self._fault == "slow":
            await anyio.sleep(SLOW_DELAY)
        self._index += 1
        self._probe.read(self._key, len(chunk))
        return chunk

    async def aclose(self) -> None:
        await self._chunks.aclose()
        if self._open:
            self._open = False
            self._probe.finished()


@attrs.define
class ProbedStore:
    """Wraps a sync store: counts open streams and HEADs, injects faults. It has no
    ``open_range`` (not even the inner store's), so the proxy HEADs first; see
    :class:`OneTripStore`."""

    inner: ObjectStore
    probe: Probe

    @property
    def bucket(self) -> str:
        return self.inner.bucket

    def head(self, key: str) -> ObjectInfo:
        _check_head(self.probe, key)
        return self.inner.head(key)

    def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = CHUNK
    ) -> Iterator[bytes]:
        probe = self.probe
        fault = probe.faults.get(key)
        probe.started()
        try:
            if fault == "first":
                raise StorageUnavailable("Injected: the object store is unreachable.")
            chunks = self.inner.get_range(key, span, chunk_size=chunk_size)
            try:
                for index, chunk in enumerate(chunks):
                    if index == 2 and fault == "mid":
                        raise StorageError("Injected: the connection to S3 broke mid-body.")
                    if index == 2 and fault == "short":
                        return
                    if fault == "slow":
                        time.sleep(SLOW_DELAY)
                    probe.read(key, len(chunk))
                    yield chunk
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        finally:
            probe.finished()

    def __getattr__(self, name: str) -> Any:
        if name == "open_range":  # not the inner store's either: see the OneTrip classes
            raise AttributeError(name)
        return getattr(self.inner, name)


@attrs.define
class ProbedAsyncStore:
    """The async twin of :class:`ProbedStore`."""

    inner: AsyncObjectStore
    probe: Probe

    @property
    def bucket(self) -> str:
        return self.inner.bucket

    async def head(self, key: str) -> ObjectInfo:
        _check_head(self.probe, key)
        return await self.inner.head(key)

    async def get_range(
        self, key: str, span: ByteSpan | None = None, *, chunk_size: int = CHUNK
    ) -> AsyncIterator[bytes]:
        probe = self.probe
        fault = probe.faults.get(key)
        probe.started()
        try:
            if fault == "first":
                raise StorageUnavailable("Injected: the object store is unreachable.")
            chunks = self.inner.get_range(key, span, chunk_size=chunk_size)
            try:
                index = 0
                async for chunk in chunks:
                    if index == 2 and fault == "mid":
                        raise StorageError("Injected: the connection to S3 broke mid-body.")
                    if index == 2 and fault == "short":
                        return
                    if fault == "slow":
                        await anyio.sleep(SLOW_DELAY)
                    index += 1
                    probe.read(key, len(chunk))
                    yield chunk
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
        finally:
            probe.finished()

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def __getattr__(self, name: str) -> Any:
        if name == "open_range":  # not the inner store's either: see the OneTrip classes
            raise AttributeError(name)
        return getattr(self.inner, name)


@attrs.define
class OneTripStore(ProbedStore):
    """:class:`ProbedStore` with ``open_range``: the proxy's one-request path."""

    def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = CHUNK
    ) -> OpenedRange:
        _check_open(self.probe, key)
        inner = self.inner
        if isinstance(inner, RangeOpener):
            opened = inner.open_range(key, first, last, chunk_size=chunk_size)
        else:
            opened = open_range_via_head(inner, key, first, last, chunk_size)
        return OpenedRange(opened.info, opened.span, _ProbedChunks(self.probe, key, opened.chunks))


@attrs.define
class OneTripAsyncStore(ProbedAsyncStore):
    """:class:`ProbedAsyncStore` with ``open_range``."""

    async def open_range(
        self, key: str, first: int = 0, last: int | None = None, *, chunk_size: int = CHUNK
    ) -> AsyncOpenedRange:
        _check_open(self.probe, key)
        assert isinstance(self.inner, AsyncRangeOpener)
        opened = await self.inner.open_range(key, first, last, chunk_size=chunk_size)
        chunks = _ProbedAsyncChunks(self.probe, key, opened.chunks)
        return AsyncOpenedRange(opened.info, opened.span, chunks)


# ---------------------------------------------------------------- the apps


def _disposition(query: str) -> str | None:
    if "download=1" in query:
        return content_disposition('Café "live".mp3', attachment=True)
    return None


def asgi_app(store: Any) -> Starlette:
    """Starlette used directly: ``GET/HEAD /media/{key}`` proxies ``store``."""

    async def media(request: Request) -> Response:
        try:
            response = await open_async(
                store,
                request.path_params["key"],
                request.method,
                request.headers,
                disposition=_disposition(request.url.query),
                chunk_size=CHUNK,
            )
        except MediaKitError as exc:
            return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=exc.headers)
        return StreamingResponse(
            response, status_code=response.status, headers=dict(response.headers)
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        close = getattr(store, "aclose", None)
        if close is not None:
            await close()

    return Starlette(
        routes=[Route("/media/{key:path}", media, methods=["GET", "HEAD"])], lifespan=lifespan
    )


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request headers of a WSGI environ."""
    return {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }


def wsgi_app(store: Any) -> Callable[..., Any]:
    """A plain WSGI callable: ``GET/HEAD /media/{key}`` proxies ``store``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        if not path.startswith("/media/"):
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        try:
            response = open_sync(
                store,
                path[len("/media/") :],
                environ["REQUEST_METHOD"],
                request_headers(environ),
                disposition=_disposition(environ.get("QUERY_STRING", "")),
                chunk_size=CHUNK,
            )
        except MediaKitError as exc:
            body = json.dumps(exc.to_dict()).encode()
            status = HTTPStatus(exc.http_status)
            start_response(
                f"{status.value} {status.phrase}",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                    *exc.headers.items(),
                ],
            )
            return [body]
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", list(response.headers))
        return response

    return app


# ---------------------------------------------------------------- the servers


@attrs.define
class Running:
    """A server running in a thread of this process."""

    url: str
    stop: Callable[[], None]


def serve_asgi(app: Starlette) -> Running:
    """uvicorn on a free port, in a thread."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="on", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_for_port(port)

    def stop() -> None:
        server.should_exit = True
        thread.join(15)

    return Running(f"http://127.0.0.1:{port}", stop)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_wsgi(app: Callable[..., Any]) -> Running:
    """wsgiref's threading server on a free port, in a thread."""
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name=f"wsgiref-{port}", daemon=True)
    thread.start()
    wait_for_port(port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(15)

    return Running(f"http://127.0.0.1:{port}", stop)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until true or ``timeout``; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


__all__ = [
    "CHUNK",
    "Probe",
    "ProbedAsyncStore",
    "ProbedStore",
    "Running",
    "asgi_app",
    "serve_asgi",
    "serve_wsgi",
    "wait_until",
    "wsgi_app",
]
