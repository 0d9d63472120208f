"""One translation point: mediakit's errors become ``{"error": {"code", "message"}}``.

mediakit's routes answer their own errors (see :class:`~mediakit_fastapi.MediaKitRoute`),
so an app needs no handler for them. :func:`install_error_handlers` remains for apps
that raise :class:`~mediakit.errors.MediaKitError` from their own routes, and, with
``framework_errors=True``, for apps that want every error in mediakit's shape (the
reference server).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mediakit.errors import MediaKitError

__all__ = [
    "error_response",
    "install_error_handlers",
    "mediakit_error_response",
    "validation_error_response",
]

log = logging.getLogger("mediakit_fastapi")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "upload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error response in the contract's shape."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def mediakit_error_response(request: Request, exc: MediaKitError) -> JSONResponse:
    """The response to ``exc``: its status, its JSON and its headers (``Retry-After``,
    ``WWW-Authenticate``...). Server-side faults (5xx) are logged."""
    if exc.http_status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.http_status, exc)
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=exc.headers or None)


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return f"{where} field {'.'.join(rest)!r}" if rest else f"request {where}"
    return ".".join(parts) or "request"


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's validation errors as one ``422 invalid_input`` naming each field."""
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    message = "Invalid input: " + "; ".join(problems[:5]) + "."
    return error_response(422, "invalid_input", message)


def _mediakit_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MediaKitError)
    return mediakit_error_response(request, exc)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail == "Not Found":
        message = f"There is no route {request.method} {request.url.path}."
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    return error_response(status, _CODES.get(status, "error"), message, exc.headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_error_response(exc)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "An unexpected error occurred; it was logged.")


def install_error_handlers(app: FastAPI, *, framework_errors: bool = False) -> None:
    """Answer :class:`~mediakit.errors.MediaKitError` raised anywhere in ``app`` in the
    contract's JSON shape, with its status and headers.

    mediakit's own routes do not need this (they answer their errors themselves); it is
    for an app's routes that call mediakit's parts and let their errors through. The
    app's ``HTTPException``, 404, 405 and validation errors keep the app's shape.

    Args:
        app: the application.
        framework_errors: also answer routing errors (404, 405), every
            ``HTTPException``, validation errors (422) and unexpected exceptions (500,
            logged) in mediakit's shape: an app that serves only mediakit's API, like
            the reference server. Off by default, since it changes the app's own errors.
    """
    app.add_exception_handler(MediaKitError, _mediakit_error)
    if framework_errors:
        app.add_exception_handler(StarletteHTTPException, _http_error)
        app.add_exception_handler(RequestValidationError, _validation_error)
        app.add_exception_handler(Exception, _unexpected)
