"""An ASGI handler that streams mediakit uploads instead of spooling them.

Django's :class:`~django.core.handlers.asgi.ASGIHandler` reads the whole request body
into a temporary file before any view runs, so an upload is only checked (size caps,
content sniffing, the per-admin concurrency limit) after every byte has arrived.
:class:`MediakitASGIHandler` leaves the body of mediakit's upload routes (``POST
.../images/upload`` and ``POST .../music-sets/<id>/tracks``, multipart) on the
connection: the async view reads it message by message straight into the core's
multipart parser, so limits apply while the upload is in flight and nothing is spooled.
Every other request is handled exactly as Django does.

.. code-block:: python

    # asgi.py
    from mediakit_django.asgi import get_asgi_application

    application = get_asgi_application()
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import io
import itertools
import json
import queue
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

import django
from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi as django_asgi
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries
from django.urls import set_script_prefix

from mediakit.errors import BadRequest, UploadTooLarge
from mediakit_django import _request_thread

__all__ = [
    "SCOPE_KEY",
    "THREAD_LOCAL_RECEIVERS",
    "LentThread",
    "MediakitASGIHandler",
    "RequestThreads",
    "StreamedBody",
    "get_asgi_application",
]

SCOPE_KEY = "mediakit.body"
"""Where the handler puts the :class:`StreamedBody` in the ASGI scope."""

_API_PATH = re.compile(r"/api/v1/(?:admin|user)/")
_UPLOAD_PATH = re.compile(r"/api/v1/admin/(?:images/upload|music-sets/[^/]+/tracks)$")

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class StreamedBody:
    """The request body, read from the ASGI ``receive`` channel as the view asks for it.

    Also stands in for ``receive`` itself: once the body is consumed, Django's
    disconnect listener reads the channel through it as usual.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._more = True
        self._buffer = b""
        self.consumed = asyncio.Event()
        """Set when the last body message has been read."""

    async def __call__(self) -> MutableMapping[str, Any]:
        """The next ASGI message (for Django's disconnect listener)."""
        return await self._receive()

    async def _next(self) -> bytes:
        while self._more:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._more = False
                raise BadRequest("The client disconnected during the upload.")
            self._more = bool(message.get("more_body", False))
            if not self._more:
                self.consumed.set()
            body = message.get("body", b"")
            if body:
                return bytes(body)
        return b""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive."""
        if self._buffer:
            data, self._buffer = self._buffer, b""
            yield data
        while chunk := await self._next():
            yield chunk

    async def aread(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all when negative); ``b""`` at the end."""
        while size < 0 or len(self._buffer) < size:
            chunk = await self._next()
            if not chunk:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class _BodyFile(io.RawIOBase):
    """A sync file over a :class:`StreamedBody`, for code that reads ``request.body``
    from a worker thread (the mediakit views never do)."""

    def __init__(self, body: StreamedBody) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return async_to_sync(self._body.aread)(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _streams(scope: MutableMapping[str, Any]) -> bool:
    if scope.get("type") != "http" or scope.get("method") != "POST":
        return False
    if not _UPLOAD_PATH.search(str(scope.get("path", ""))):
        return False
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-type":
            return bytes(value).lower().startswith(b"multipart/form-data")
    return False


def _declared_too_large(scope: MutableMapping[str, Any]) -> int | None:
    """The cap a mediakit API request's declared ``Content-Length`` exceeds, or ``None``.

    Why: Django's handler reads (spools) the whole body before any view runs, so the
    JSON routes' cap (``DATA_UPLOAD_MAX_MEMORY_SIZE``) would only apply after every byte of a
    huge body had been received, whoever sent it.
    """
    cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if cap is None or scope.get("type") != "http":
        return None
    if not _API_PATH.search(str(scope.get("path", ""))):
        return None
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            declared = bytes(value).strip()
            return int(cap) if declared.isdigit() and int(declared) > int(cap) else None
    return None


_LENDS_EXECUTORS = "executor" in inspect.signature(ThreadSensitiveContext).parameters
"""A ``ThreadSensitiveContext`` can run on an executor its caller owns (asgiref 3.13 has it)."""


_DEFERS_STARTED = django.VERSION >= (5, 0)
"""Django's ASGI handler has the shape :meth:`MediakitASGIHandler._handle_lent` follows
(5.0+: the disconnect listener, ``Signal.asend``)."""

_T = TypeVar("_T")

THREAD_LOCAL_RECEIVERS: set[Callable[..., Any]] = {reset_queries, close_old_connections}
"""``request_started`` receivers that only touch the current thread's database
connections: run as the first work of the request's thread rather than in a hop of
their own (see :meth:`MediakitASGIHandler._request_started`)."""


def _close_thread_connections() -> None:
    from django.db import connections

    connections.close_all()


class _Call:
    """A call on a :class:`LentThread` settling a ``concurrent.futures.Future``."""

    __slots__ = ("call", "future")

    def __init__(self, call: Callable[[], Any], future: Future[Any]) -> None:
        self.call = call
        self.future = future

    def run(self, leave: Callable[[], None]) -> None:
        """Run the call (``leave()`` once it has run, before its future is settled)."""
        if not self.future.set_running_or_notify_cancel():
            leave()
            return
        try:
            result = self.call()
        except BaseException as exc:
            leave()
            self.future.set_exception(exc)
        else:
            leave()
            self.future.set_result(result)

    def cancel(self) -> None:
        self.future.cancel()


class _Hop:
    """A call on a :class:`LentThread` settling an ``asyncio`` future of ``loop``."""

    __slots__ = ("call", "future", "loop")

    def __init__(
        self, call: Callable[[], Any], future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.call = call
        self.future = future
        self.loop = loop

    def run(self, leave: Callable[[], None]) -> None:
        """Run the call (``leave()`` once it has run, before its future is settled)."""
        if self.future.cancelled():  # the awaiting task was cancelled: as a Future would
            leave()
            return
        try:
            result = self.call()
        except BaseException as exc:
            settle: Callable[..., None] = _settle_exception
            outcome: Any = exc
        else:
            settle, outcome = _settle_result, result
        leave()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self.loop.call_soon_threadsafe(settle, self.future, outcome)

    def cancel(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.future.cancel)


def _settle_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _settle_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class LentThread(Executor):
    """The single-thread executor :class:`RequestThreads` lends: one thread running the
    calls it is given in order, which can also run work *before* the next call, in the
    same trip to the thread (:meth:`defer`), and take a call straight from the event
    loop (:meth:`hop`).

    Why not a ``ThreadPoolExecutor(max_workers=1)``: the request's steps go to this
    thread twice per proxied request (its database read, then closing the response), and
    through a ``ThreadPoolExecutor`` and ``asyncio.wrap_future`` a hop cost about 105 us
    of CPU on the benchmark machine (its locks and idle-thread semaphore, the
    ``concurrent.futures.Future`` condition, the chaining of two futures) against 62 us
    for a queue put and one ``call_soon_threadsafe`` (:meth:`hop`). :meth:`submit` is the
    ``Executor`` API, for asgiref; both run on the one thread, in the order given."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Call | _Hop | None] = queue.SimpleQueue()
        self._prelude: list[Callable[[], object]] = []
        self._calls = 0
        self._lock = threading.Lock()
        self._shutdown = False
        self._thread = threading.Thread(
            target=self._work, name=f"mediakit-request-{next(_THREAD_NUMBERS)}", daemon=True
        )
        self._thread.start()

    @property
    def idle(self) -> bool:
        """Whether no call is running or waiting on the thread (a busy thread may be
        the one waiting, in ``async_to_sync``, for what would be submitted next)."""
        return self._calls == 0

    def defer(self, step: Callable[[], object]) -> None:
        """Run ``step`` on the thread right before the next submitted call (or at
        shutdown, if no call comes), in submission order."""
        self._prelude.append(step)

    def _enter(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Count a call in; ``fn`` with the deferred steps first (an error in one of
        them is the call's error)."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._calls += 1
            if not self._prelude:
                return fn
            prelude, self._prelude = self._prelude, []

        def with_prelude() -> Any:
            for step in prelude:
                step()
            return fn()

        return with_prelude

    def _leave(self) -> None:
        with self._lock:
            self._calls -= 1

    def _work(self) -> None:
        get, leave = self._queue.get, self._leave
        while (item := get()) is not None:
            item.run(leave)
            del item  # the call's result and arguments are freed before the next wait

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on the thread, the deferred steps first."""
        call = self._enter(functools.partial(fn, *args, **kwargs))
        future: Future[Any] = Future()
        self._queue.put(_Call(call, future))
        return future

    def hop(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        """Run ``fn()`` on the thread, the deferred steps first; its result (or error)
        in a future of the running event loop, settled with one ``call_soon_threadsafe``.
        Cancelling the future skips ``fn`` if it has not started."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        call = self._enter(fn)
        self._queue.put(_Hop(call, future, loop))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Run what is still deferred (and, unless ``cancel_futures``, every call
        given), then end the thread."""
        if self._prelude:
            with contextlib.suppress(RuntimeError):  # already shut down
                self.submit(lambda: None)
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        if cancel_futures:
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._queue.get_nowait()
                    if item is not None:
                        item.cancel()
                        self._leave()
        self._queue.put(None)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()


_THREAD_NUMBERS = itertools.count(1)


class RequestThreads:
    """Long-lived single-thread executors lent to requests, one per request at a time.

    Django's ASGI handler runs each request in a ``ThreadSensitiveContext``: the
    request's synchronous work (sync middleware and views, the ``request_started`` and
    ``request_finished`` receivers, ORM calls made through ``sync_to_async``) runs on one
    thread of its own, started for the request and ended after it (about 0.3 ms of CPU
    per request on the benchmark machine, and a new database connection each time).
    Lending a thread from here keeps the one-thread-per-request rule without starting
    one. Django still closes the thread's connections at the end of each request as
    ``CONN_MAX_AGE`` says (with a maximum age, a connection outlives the request, as
    under WSGI). Up to ``idle`` threads wait for the next request; one more is closed
    (its connections first) when it comes back.
    """

    def __init__(self, idle: int = 8) -> None:
        self.idle = idle
        self._free: list[LentThread] = []
        self._lock = threading.Lock()

    def acquire(self) -> LentThread:
        """A free executor, or a new one."""
        with self._lock:
            if self._free:
                return self._free.pop()
        return LentThread()

    def release(self, executor: LentThread) -> None:
        """Take ``executor`` back (its request is over), or retire it past ``idle``."""
        with self._lock:
            if len(self._free) < self.idle:
                self._free.append(executor)
                return
        self.retire(executor)

    @staticmethod
    def retire(executor: Executor) -> None:
        """Close the thread's database connections, then let the thread end."""
        with contextlib.suppress(RuntimeError):  # already shut down
            executor.submit(_close_thread_connections)
        executor.shutdown(wait=False)

    def close(self) -> None:
        """Retire every waiting executor (at shutdown)."""
        with self._lock:
            free, self._free = self._free, []
        for executor in free:
            self.retire(executor)


class MediakitASGIHandler(ASGIHandler):
    """Django's ASGI handler, with mediakit uploads streamed to the view (see the module).

    Each request's synchronous work runs on a thread lent by :class:`RequestThreads`
    rather than one started for it (with an asgiref whose ``ThreadSensitiveContext`` takes
    an executor, as 3.13 does; with an older one, as Django does).

    It also speaks the ASGI ``lifespan`` protocol (Django's own handler refuses it): at
    ``lifespan.startup`` the project's kit is built and its async S3 client opened
    (:meth:`MediaKit.astart <mediakit.service.MediaKit.astart>`), so no request pays
    those start-up costs; servers run it by default (uvicorn's ``lifespan="auto"``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.request_threads = RequestThreads()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve ``lifespan`` here; a request on a lent thread (see the class)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.request_threads)
            return
        if scope["type"] != "http" or not _LENDS_EXECUTORS:
            await super().__call__(scope, receive, send)  # Django's checks and context
            return
        executor = self.request_threads.acquire()
        token = _request_thread.lent.set(_request_thread.Lent(executor, asyncio.get_running_loop()))
        try:
            async with ThreadSensitiveContext(executor=executor):
                if _DEFERS_STARTED:
                    await self._handle_lent(executor, scope, receive, send)
                else:
                    await self.handle(scope, receive, send)
        except BaseException:
            # cancelled or failed: a call may still run on the thread; not for reuse
            self.request_threads.retire(executor)
            raise
        finally:
            _request_thread.lent.reset(token)
        self.request_threads.release(executor)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle one request; upload routes get a :class:`StreamedBody` in the scope.

        Any other mediakit API request declaring a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
        is answered ``413 request_too_large`` without reading the body.
        """
        prepared = await self._prepare(scope, receive, send)
        if prepared is not None:
            await super().handle(*prepared, send)

    async def _prepare(self, scope: Any, receive: Any, send: Any) -> tuple[Any, Any] | None:
        """The scope and receive channel to handle (a :class:`StreamedBody` for uploads),
        or ``None`` when the request was answered here (413)."""
        if _streams(scope):
            body = StreamedBody(receive)
            scope = {**scope, SCOPE_KEY: body}
            receive = body
        elif (cap := _declared_too_large(scope)) is not None:
            error = UploadTooLarge(
                f"The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE ({cap} bytes).",
                code="request_too_large",
            )
            payload = json.dumps(error.to_dict()).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return None
        return scope, receive

    async def _request_started(self, executor: LentThread, scope: Any) -> None:
        """Send ``request_started``, without a hop to the request's thread for it when
        its only synchronous receivers are Django's own (``reset_queries``,
        ``close_old_connections``: they act on the thread's database connections).

        Those run on the request's thread as the first work of its next trip there (the
        database read of a seek, or closing the response), before anything else touches
        its connections, so they act as they would have; the request saves a hop (about
        0.17 ms of CPU on the benchmark machine). Any other synchronous receiver, and
        every async one, is sent as Django does."""
        signal = signals.request_started
        live = signal._live_receivers(self.__class__)
        sync_receivers, async_receivers = live
        if async_receivers or not all(r in THREAD_LOCAL_RECEIVERS for r in sync_receivers):
            await signal.asend(sender=self.__class__, scope=scope)
            return
        sender = self.__class__

        def send_sync() -> None:
            for receiver in sync_receivers:
                receiver(signal=signal, sender=sender, scope=scope)

        if sync_receivers:
            executor.defer(send_sync)

    async def _handle_lent(self, executor: LentThread, scope: Any, receive: Any, send: Any) -> None:
        """Django's ``ASGIHandler.handle`` (5.0+), with ``request_started`` sent by
        :meth:`_request_started`; the rest is Django's: the body, the request, the
        disconnect listener next to the response, and the response closed (with
        ``request_finished``) on the request's thread."""
        prepared = await self._prepare(scope, receive, send)
        if prepared is None:
            return
        scope, receive = prepared
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        # a module function since Django 5.0 (a method of the handler before)
        script_prefix = getattr(django_asgi, "get_script_prefix", None)
        prefix = script_prefix(scope) if script_prefix else self.get_script_prefix(scope)  # type: ignore[attr-defined]
        set_script_prefix(prefix)
        await self._request_started(executor, scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None  # Django returns one or the other
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request: Any, send: Any) -> Any:
            response = await self.run_get_response(request)
            # the client may disconnect during send_response
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
            return response

        # the disconnect listener first: it raises nothing unexpected that would keep
        # process_request from being cancelled
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass  # a client disconnect
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()  # views may handle cancellation
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            # on the request's thread, as Django's sync_to_async(response.close)() runs
            # it here, submitted straight (asgiref's hop costs ~100 us of CPU more)
            context = contextvars.copy_context()
            await executor.hop(functools.partial(context.run, response.close))
        body_file.close()

    async def read_body(self, receive: Any) -> Any:
        """Leave a streamed body on the connection; spool any other as Django does."""
        if isinstance(receive, StreamedBody):
            return _BodyFile(receive)
        return await super().read_body(receive)

    async def listen_for_disconnect(self, receive: Any) -> None:
        """Listen for the disconnect only once the view has read a streamed body."""
        if isinstance(receive, StreamedBody):
            await receive.consumed.wait()
        await super().listen_for_disconnect(receive)


async def _lifespan(receive: Any, send: Any, threads: RequestThreads) -> None:
    from asgiref.sync import sync_to_async

    from mediakit_django.kit import get_kit

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                # built in a thread: building may read the database (Django's ORM refuses
                # synchronous queries on the event loop)
                kit = await sync_to_async(get_kit, thread_sensitive=False)()
                await kit.astart()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # the async client's connections belong to this loop: close them on it (the
            # rest of the kit is closed at exit, see mediakit_django.kit)
            aclose = getattr(get_kit().astore, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            threads.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def get_asgi_application() -> MediakitASGIHandler:
    """Set Django up and return the ASGI application (like Django's own function)."""
    django.setup(set_prefix=False)
    return MediakitASGIHandler()
