"""The HTTP API as Django views: request in, one service call, response out.

Every endpoint is described once (an :class:`Endpoint` turning the request into a
service call) and served by two dispatchers: a sync one over
:class:`~mediakit.service.MediaService` (WSGI; the Range proxy streams a sync iterator
through ``StreamingHttpResponse``) and an async one over
:class:`~mediakit.service.AsyncMediaService` (ASGI; async iterators). No rule lives
here: access, validation of values, JSON shapes and errors are the service's; this
module only checks the *form* of the input (JSON types, query parameters) the way the
FastAPI adapter's models do, so both adapters answer byte-for-byte alike.

Uploads hand the raw request stream to the core's multipart parser: Django never
parses ``request.FILES`` (so ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and upload handlers do
not apply; mediakit's ``MEDIA_MAX_*`` limits do). Under ASGI, Django's own handler spools the
body to a temporary file before the view runs; serve the project with
:class:`mediakit_django.asgi.MediakitASGIHandler` to stream uploads off the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

import anyio.to_thread
import attrs
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, re_path

from mediakit import gunicorn
from mediakit.contract import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_TITLE,
    MIN_LIMIT,
    PROXY_QUALITIES,
    STREAM_TIERS,
)
from mediakit.errors import MediaKitError, UnprocessableEntity, UploadTooLarge
from mediakit.models import Principal
from mediakit.proxy import body_in_full
from mediakit.service import LOCAL_PATH, PROXY_PATH, ServedObject, has_grant
from mediakit.values import AsyncClosable
from mediakit_django import auth
from mediakit_django.asgi import SCOPE_KEY, StreamedBody
from mediakit_django.kit import get_kit

__all__ = [
    "Endpoint",
    "build_urlpatterns",
    "error_response",
    "json_not_found",
    "json_server_error",
]

log = logging.getLogger("mediakit_django")

_CHUNK = 1024 * 1024
_DRAIN_MAX = 4 * _CHUNK  # a refused upload: at most this much more is read (see _drain)
_INT = re.compile(r"^[+-]?[0-9]+$")


# --------------------------------------------------------------------------- responses

_DUMPS = {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}
"""Compact UTF-8 JSON, as the FastAPI adapter sends it."""


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JsonResponse:
    """A JSON error response in the contract's shape ``{"error": {"code", "message"}}``."""
    response = JsonResponse(
        {"error": {"code": code, "message": message}}, status=status, json_dumps_params=_DUMPS
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _mediakit_error(request: HttpRequest, exc: MediaKitError) -> JsonResponse:
    if exc.http_status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.path, exc.http_status, exc)
    response = JsonResponse(exc.to_dict(), status=exc.http_status, json_dumps_params=_DUMPS)
    for name, value in (exc.headers or {}).items():
        response[name] = value
    return response


def _unexpected(request: HttpRequest, exc: BaseException) -> JsonResponse:
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "An unexpected error occurred; it was logged.")


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """A JSON 404 (use as the project's ``handler404``; the API's unknown routes use it)."""
    return error_response(404, "not_found", f"There is no route {request.method} {request.path}.")


def json_server_error(request: HttpRequest) -> JsonResponse:
    """A JSON 500 (use as the project's ``handler500``)."""
    return error_response(500, "internal_error", "An unexpected error occurred; it was logged.")


def _json(result: Any, status: int) -> HttpResponse:
    if result is None:
        empty = HttpResponse(status=204)
        del empty["Content-Type"]  # no body, no type (as the FastAPI adapter answers)
        return empty
    return JsonResponse(result, status=status, safe=False, json_dumps_params=_DUMPS)


class _ClosingAsyncBody:
    """An async body Django can close: it registers ``close()`` but never ``aclose()``.

    Django closes a response (``response.close()``) when it is sent or the client has
    gone, but only calls the body's *sync* ``close()``; the sync view's body has one
    (:class:`mediakit.proxy.ProxyResponse`), the async body only ``aclose()``. Without
    this, a client disconnecting from an ASGI stream left the store's stream (an S3
    connection) open until the garbage collector found it.
    """

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._tasks: set[asyncio.Task[None]] = set()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._body

    async def _aclose(self) -> None:
        if isinstance(self._body, AsyncClosable):
            await self._body.aclose()

    def close(self) -> None:
        """Close the async body: on the event loop when called on it (Django's test
        client), else through it from the worker thread Django's ASGI handler uses."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            async_to_sync(self._aclose)()
            return
        task = loop.create_task(self._aclose())
        self._tasks.add(task)  # keep a reference until it has run
        task.add_done_callback(self._tasks.discard)


def _streaming(served: ServedObject[Any]) -> HttpResponseBase:
    """The response of a served object: a plain one when the whole body is in hand (a
    seek of at most one chunk, HEAD, 304), else streaming."""
    response: HttpResponseBase
    whole = body_in_full(served.body)
    if whole is not None:
        response = HttpResponse(whole, status=served.status)
    else:
        body = served.body
        if not hasattr(body, "close") and hasattr(body, "aclose"):
            body = _ClosingAsyncBody(body)
        response = StreamingHttpResponse(body, status=served.status)
    if not any(name.lower() == "content-type" for name in served.headers):
        del response["Content-Type"]  # no Django default on 304s and empty bodies
    for name, value in served.headers.items():
        response[name] = value
    return response


# --------------------------------------------------------------------------- input checks


def _invalid(*problems: str) -> UnprocessableEntity:
    return UnprocessableEntity(
        "Invalid input: " + "; ".join(problems[:5]) + ".", code="invalid_input"
    )


def _json_too_large() -> UploadTooLarge:
    return UploadTooLarge(
        "The JSON request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE "
        f"({settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes).",
        code="request_too_large",
    )


def _raw_body(request: HttpRequest) -> bytes:
    """The request body, capped at ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

    A chunked body (no Content-Length) under a WSGI server that marks its input safe to
    read to the end is read from the server's input, where Django alone would see an
    empty body.
    """
    stream = _wsgi_stream(request)
    if stream is request:
        try:
            body: bytes = request.body
        except RequestDataTooBig:
            raise _json_too_large() from None
        return body
    cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    pieces: list[bytes] = []
    size = 0
    while piece := stream.read(_CHUNK):
        size += len(piece)
        if cap is not None and size > cap:
            raise _json_too_large()
        pieces.append(piece)
    return b"".join(pieces)


def _body(request: HttpRequest) -> dict[str, Any]:
    raw = _raw_body(request)
    if not raw:
        raise _invalid("request body: Field required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: json.loads recurses per nesting level ("[" * 100000)
        raise _invalid("request body: JSON decode error") from None
    if not isinstance(data, dict):
        raise _invalid("request body: Input should be a valid dictionary or object")
    return data


def _str(
    data: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    min_length: int = 0,
    max_length: int | None = None,
) -> str | None:
    if name not in data or (data[name] is None and not required):
        if required:
            raise _invalid(f"body field {name!r}: Field required")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise _invalid(f"body field {name!r}: Input should be a valid string")
    if len(value) < min_length:
        raise _invalid(f"body field {name!r}: String should have at least {min_length} character")
    if max_length is not None and len(value) > max_length:
        raise _invalid(f"body field {name!r}: String should have at most {max_length} characters")
    return value


def _bool(data: Mapping[str, Any], name: str, *, required: bool = False) -> bool | None:
    if name not in data or (data[name] is None and not required):
        if required:
            raise _invalid(f"body field {name!r}: Field required")
        return None
    value = data[name]
    if not isinstance(value, bool):
        raise _invalid(f"body field {name!r}: Input should be a valid boolean")
    return value


def _str_list(data: Mapping[str, Any], name: str) -> list[str]:
    if name not in data:
        raise _invalid(f"body field {name!r}: Field required")
    value = data[name]
    if not isinstance(value, list):
        raise _invalid(f"body field {name!r}: Input should be a valid list")
    if not all(isinstance(v, str) for v in value):
        raise _invalid(f"body field {name!r}: every item should be a valid string")
    return value


def _limit(request: HttpRequest) -> int:
    raw = request.GET.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _INT.match(raw.strip()):
        raise _invalid("query field 'limit': Input should be a valid integer")
    value = int(raw)
    if not MIN_LIMIT <= value <= MAX_LIMIT:
        raise _invalid(f"query field 'limit': Input should be between {MIN_LIMIT} and {MAX_LIMIT}")
    return value


def _choice(request: HttpRequest, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.GET.get(name)
    if value is not None and value not in allowed:
        raise _invalid(f"query field {name!r}: Input should be {', '.join(map(repr, allowed))}")
    return value


def _page(request: HttpRequest) -> dict[str, Any]:
    return {"limit": _limit(request), "cursor": request.GET.get("cursor")}


# --------------------------------------------------------------------------- endpoints

BODY = object()
"""Placeholder for the request body stream in a :class:`Call`'s arguments."""


@attrs.frozen
class Call:
    """One service call: ``getattr(service, method)(*args, **kwargs)``, and how to answer."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    status: int = 200
    stream: bool = False
    """The result is a :class:`ServedObject` to stream (Range proxy, local files)."""


Handler = Callable[..., Call]
"""``handler(request, principal, **path_kwargs) -> Call``."""


@attrs.frozen
class Endpoint:
    """A URL pattern: its handlers by HTTP method, and whether it needs a principal."""

    route: str
    name: str
    methods: Mapping[str, Handler]
    authenticated: bool = True
    grant: bool = False
    """A URL grant (``exp``/``sig``, checked by the service) may stand in for the principal."""

    def needs_principal(self, request: HttpRequest) -> bool:
        """Whether this request must resolve a principal (not when it carries a grant)."""
        return self.authenticated and not (self.grant and has_grant(request.GET))


def _upload(request: HttpRequest) -> dict[str, Any]:
    return {
        "content_type": request.META.get("CONTENT_TYPE") or None,
        "content_length": request.META.get("CONTENT_LENGTH") or None,
    }


def _admin_image_post(request: HttpRequest, who: Principal, image_id: str) -> Call:
    if image_id != "upload":
        raise _MethodNotAllowed(("GET", "PUT", "DELETE"))
    return Call("upload_images", (who, BODY), _upload(request), status=201)


def _update_image(request: HttpRequest, who: Principal, image_id: str) -> Call:
    data = _body(request)
    return Call(
        "update_image",
        (who, image_id),
        {
            "title": _str(data, "title", max_length=MAX_TITLE),
            "description": _str(data, "description"),
            "visible": _bool(data, "visible"),
        },
    )


def _create_set(request: HttpRequest, who: Principal) -> Call:
    data = _body(request)
    return Call(
        "create_music_set",
        (who,),
        {
            "title": _str(data, "title", required=True, min_length=1, max_length=MAX_TITLE),
            "description": _str(data, "description"),
            "visible": _bool(data, "visible"),
        },
        status=201,
    )


def _update_set(request: HttpRequest, who: Principal, set_id: str) -> Call:
    data = _body(request)
    return Call(
        "update_music_set",
        (who, set_id),
        {
            "title": _str(data, "title", min_length=1, max_length=MAX_TITLE),
            "description": _str(data, "description"),
            "visible": _bool(data, "visible"),
        },
    )


def _set_visibility(request: HttpRequest, who: Principal, set_id: str) -> Call:
    visible = _bool(_body(request), "visible", required=True)
    return Call("set_music_set_visibility", (who, set_id, visible))


def _put_track(request: HttpRequest, who: Principal, set_id: str, track_id: str) -> Call:
    data = _body(request)
    if track_id == "order":  # PUT .../tracks/order is the reorder route
        return Call("reorder_tracks", (who, set_id, _str_list(data, "track_ids")))
    title = _str(data, "title", max_length=MAX_TITLE)
    return Call("update_track", (who, set_id, track_id), {"title": title})


def _proxy(request: HttpRequest, who: Principal, media_id: str) -> Call:
    return Call(
        "proxy",
        (who, media_id),
        {
            "method": request.method,
            "headers": request.headers,
            "quality": _choice(request, "quality", PROXY_QUALITIES),
            "size": request.GET.get("size"),
            "query": request.GET,
        },
        stream=True,
    )


def _local_file(request: HttpRequest, who: Principal | None, key: str) -> Call:
    return Call(
        "serve_local",
        (key, dict(request.GET.items())),
        {"method": request.method, "headers": request.headers},
        stream=True,
    )


_A = "api/v1/admin"
_U = "api/v1/user"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        f"{_A}/images",
        "admin-images",
        {"GET": lambda r, w: Call("list_images", (w,), {"admin": True, **_page(r)})},
    ),
    Endpoint(
        f"{_A}/images/<str:image_id>",
        "admin-image",
        {
            "GET": lambda r, w, image_id: Call("get_image", (w, image_id), {"admin": True}),
            "PUT": _update_image,
            "DELETE": lambda r, w, image_id: Call("delete_image", (w, image_id), status=204),
            "POST": _admin_image_post,
        },
    ),
    Endpoint(
        f"{_A}/music-sets",
        "admin-music-sets",
        {
            "GET": lambda r, w: Call("list_music_sets", (w,), {"admin": True, **_page(r)}),
            "POST": _create_set,
        },
    ),
    Endpoint(
        f"{_A}/music-sets/<str:set_id>",
        "admin-music-set",
        {
            "GET": lambda r, w, set_id: Call("get_music_set", (w, set_id), {"admin": True}),
            "PUT": _update_set,
            "DELETE": lambda r, w, set_id: Call("delete_music_set", (w, set_id), status=204),
        },
    ),
    Endpoint(
        f"{_A}/music-sets/<str:set_id>/visibility",
        "admin-music-set-visibility",
        {"PUT": _set_visibility},
    ),
    Endpoint(
        f"{_A}/music-sets/<str:set_id>/tracks",
        "admin-tracks",
        {
            "POST": lambda r, w, set_id: Call(
                "upload_tracks", (w, set_id, BODY), _upload(r), status=201
            )
        },
    ),
    Endpoint(
        f"{_A}/music-sets/<str:set_id>/tracks/<str:track_id>",
        "admin-track",
        {
            "PUT": _put_track,
            "DELETE": lambda r, w, set_id, track_id: Call(
                "delete_track", (w, set_id, track_id), status=204
            ),
        },
    ),
    Endpoint(
        f"{_U}/images",
        "user-images",
        {"GET": lambda r, w: Call("list_images", (w,), _page(r))},
    ),
    Endpoint(
        f"{_U}/images/<str:image_id>",
        "user-image",
        {"GET": lambda r, w, image_id: Call("get_image", (w, image_id))},
    ),
    Endpoint(
        f"{_U}/music-sets",
        "user-music-sets",
        {"GET": lambda r, w: Call("list_music_sets", (w,), _page(r))},
    ),
    Endpoint(
        f"{_U}/music-sets/<str:set_id>",
        "user-music-set",
        {"GET": lambda r, w, set_id: Call("get_music_set", (w, set_id))},
    ),
    Endpoint(
        f"{_U}/music-sets/<str:set_id>/stream/<str:track_id>",
        "user-stream-url",
        {
            "GET": lambda r, w, set_id, track_id: Call(
                "stream_url",
                (w, set_id, track_id, _choice(r, "quality", STREAM_TIERS)),
            )
        },
    ),
    Endpoint(
        f"{_U}/music-sets/<str:set_id>/download/<str:track_id>",
        "user-download-url",
        {"GET": lambda r, w, set_id, track_id: Call("download_url", (w, set_id, track_id))},
    ),
    Endpoint(
        f"{PROXY_PATH.lstrip('/')}/<str:media_id>/stream",
        "proxy",
        {"GET": _proxy, "HEAD": _proxy},
        grant=True,
    ),
    Endpoint(
        f"{LOCAL_PATH.lstrip('/')}/<path:key>",
        "local-file",
        {"GET": _local_file, "HEAD": _local_file},
        authenticated=False,
    ),
)
"""Every route of the API contract (paths relative to where the urls are included)."""
_HOT_PREFIXES = (PROXY_PATH.lstrip("/"), LOCAL_PATH.lstrip("/"), _U)


# --------------------------------------------------------------------------- dispatch


class _MethodNotAllowed(Exception):
    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(allowed)
        self.allowed = allowed


def _not_allowed(request: HttpRequest, allowed: tuple[str, ...]) -> JsonResponse:
    response = error_response(
        405, "method_not_allowed", f"{request.method} is not allowed on {request.path}."
    )
    response["Allow"] = ", ".join(allowed)
    return response


def _wsgi_stream(request: HttpRequest) -> Any:
    """The body stream: Django's (bounded by Content-Length), or for a chunked request
    the server's own input when it marks it safe to read to the end
    (``wsgi.input_terminated``, set by gunicorn and mod_wsgi); Django alone would
    read a chunked body as empty."""
    if not request.META.get("CONTENT_LENGTH") and request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"]
    return request


class _CountingBody:
    """The request body as chunks for the service, counting the bytes read."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.read = 0
        self._read: Callable[[int], bytes] = stream.read

    @classmethod
    def of(cls, request: HttpRequest) -> _CountingBody:
        """The body of ``request``: under gunicorn, read straight off the connection
        (:func:`mediakit.gunicorn.body_reader`) when Django has read none of it yet."""
        body = cls(_wsgi_stream(request))
        if body.stream is request and not getattr(request, "_read_started", True):
            direct = gunicorn.body_reader(request.META.get("wsgi.input"))
            if direct is not None:
                # as Django's own read() would: request.body is no longer available
                request._read_started = True
                body._read = direct
        return body

    def __iter__(self) -> Iterator[bytes]:
        read = self._read
        while chunk := read(_CHUNK):
            self.read += len(chunk)
            yield chunk

    def read_more(self, size: int) -> bytes:
        """Up to ``size`` more bytes, from where the service stopped reading."""
        return self._read(size)


def _drain(body: _CountingBody, declared: object, already_read: int, cap: int) -> None:
    """Read a little of what is left of a refused upload, so that a client sending a
    small body can finish and read the error instead of a reset connection.

    Bounded whatever the refusal (401, 403, 404, 413, 415, 429...): at most
    ``_DRAIN_MAX`` more, and never past the request cap (``MEDIA_MAX_UPLOAD_SIZE_TOTAL``)
    plus one chunk, counting what the service read already. A body declared larger than
    that is not drained at all: the client could not finish anyway. The rest of the body
    is the server's to discard; gunicorn reads at most 64 KiB of it and then closes the
    connection.
    """
    budget = min(_DRAIN_MAX, cap + _CHUNK - already_read)
    if isinstance(declared, str) and declared.isdigit() and int(declared) - already_read > budget:
        return
    left = budget
    try:
        while left > 0 and (chunk := body.read_more(min(_CHUNK, left))):
            left -= len(chunk)
    except OSError:
        pass


async def _async_body(request: HttpRequest) -> AsyncIterator[bytes]:
    streamed = getattr(request, "scope", {}).get(SCOPE_KEY)
    if isinstance(streamed, StreamedBody):  # MediakitASGIHandler: straight off the connection
        async for chunk in streamed.chunks():
            yield chunk
        return
    # Django's own ASGI handler has spooled the body to a temporary file already.
    while chunk := await anyio.to_thread.run_sync(request.read, _CHUNK):
        yield chunk


def _handler(endpoint: Endpoint, request: HttpRequest) -> Handler | JsonResponse:
    method = request.method or "GET"
    handler = endpoint.methods.get(method)
    if handler is None:
        return _not_allowed(request, tuple(endpoint.methods))
    return handler


def _sync_view(endpoint: Endpoint) -> Callable[..., HttpResponseBase]:
    def view(request: HttpRequest, **kwargs: str) -> HttpResponseBase:
        handler = _handler(endpoint, request)
        if isinstance(handler, HttpResponse):
            return handler
        body: _CountingBody | None = None
        try:
            who = auth.authenticate(request) if endpoint.needs_principal(request) else None
            call = handler(request, who, **kwargs)
            if BODY in call.args:
                body = _CountingBody.of(request)
            args = tuple(body if a is BODY else a for a in call.args)
            result = getattr(get_kit().service, call.method)(*args, **call.kwargs)
        except _MethodNotAllowed as exc:
            return _not_allowed(request, exc.allowed)
        except MediaKitError as exc:
            if body is not None:
                cap = get_kit().settings.max_upload_size_total
                _drain(body, request.META.get("CONTENT_LENGTH"), body.read, cap)
            return _mediakit_error(request, exc)
        except Exception as exc:
            return _unexpected(request, exc)
        return _streaming(result) if call.stream else _json(result, call.status)

    view.__name__ = view.__qualname__ = f"mediakit_{endpoint.name.replace('-', '_')}"
    view.__doc__ = f"mediakit endpoint {endpoint.route} (sync)."
    return _csrf_exempt(view)


def _async_view(endpoint: Endpoint) -> Callable[..., Any]:
    async def view(request: HttpRequest, **kwargs: str) -> HttpResponseBase:
        handler = _handler(endpoint, request)
        if isinstance(handler, HttpResponse):
            return handler
        try:
            who = await auth.aauthenticate(request) if endpoint.needs_principal(request) else None
            call = handler(request, who, **kwargs)
            args = tuple(_async_body(request) if a is BODY else a for a in call.args)
            result = await getattr(get_kit().aservice, call.method)(*args, **call.kwargs)
        except _MethodNotAllowed as exc:
            return _not_allowed(request, exc.allowed)
        except MediaKitError as exc:
            return _mediakit_error(request, exc)
        except Exception as exc:
            return _unexpected(request, exc)
        return _streaming(result) if call.stream else _json(result, call.status)

    view.__name__ = view.__qualname__ = f"mediakit_{endpoint.name.replace('-', '_')}"
    view.__doc__ = f"mediakit endpoint {endpoint.route} (async)."
    return _csrf_exempt(view)


_V = TypeVar("_V", bound=Callable[..., Any])


def _csrf_exempt(view: _V) -> _V:
    """Mark ``view`` exempt from ``CsrfViewMiddleware`` (the views run the check
    themselves, when the principal resolver needs it: :func:`mediakit_django.auth.authenticate`).

    Django's ``csrf_exempt`` would wrap an async view in a sync function before 5.0.
    """
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return json_not_found(request)


async def _aapi_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return json_not_found(request)


def build_urlpatterns(*, asynchronous: bool) -> list[URLPattern]:
    """URL patterns for every endpoint: async views (ASGI) or sync views (WSGI).

    The last pattern answers unknown ``api/v1/...`` routes with a JSON 404, whatever
    the project's ``handler404`` is.
    """
    make = _async_view if asynchronous else _sync_view
    # Django tries the patterns one by one: the routes every seek and page hits come
    # first (about 1 us per pattern skipped). No two endpoints' paths overlap, so the
    # order changes no match.
    hot_first = sorted(ENDPOINTS, key=lambda e: not e.route.startswith(_HOT_PREFIXES))
    patterns = [path(e.route, make(e), name=e.name) for e in hot_first]
    fallback = _aapi_not_found if asynchronous else _api_not_found
    patterns.append(re_path(r"^api/v1/(?P<rest>.*)$", _csrf_exempt(fallback), name="not-found"))
    return patterns
