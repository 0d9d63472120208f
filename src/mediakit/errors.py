"""The closed mediakit error hierarchy.

Every error mediakit raises on purpose is a :class:`MediaKitError`. Each carries a
machine-readable ``code``, a message a person can act on, and an ``http_status`` hint.
Adapters translate them in one place into ``{"error": {"code": ..., "message": ...}}``
with that status; the core never imports a web framework.

Storage-layer faults (botocore ``ClientError`` and friends) are translated once, in
the storage shells, into :class:`StorageError` / :class:`StorageUnavailable` /
:class:`ObjectNotFound`; nothing else in mediakit inspects botocore errors.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "MediaKitError",
    "NotFound",
    "ObjectNotFound",
    "PreconditionFailed",
    "ProcessingError",
    "RangeNotSatisfiable",
    "StorageError",
    "StorageUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadTooLarge",
]


class MediaKitError(Exception):
    """Base of every error mediakit raises on purpose.

    Attributes:
        code: a stable, machine-readable identifier such as ``"upload_too_large"``.
        message: a sentence a person can act on.
        http_status: the HTTP status an adapter should answer with.
        headers: extra response headers (``Retry-After``, ``Content-Range``...).
    """

    http_status: int = 500
    code: str = "internal_error"
    public_message: str = "Something went wrong on the server; the details are in its log."
    """What clients see instead of ``message`` when ``http_status >= 500``: server-side
    details (bucket names, keys, provider error text) stay in the server log."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The JSON error body shared by every adapter.

        Client errors (4xx) carry ``message``; server errors (5xx) carry the class's
        ``public_message`` so that no internals reach clients (adapters log ``message``).
        """
        message = self.message if self.http_status < 500 else self.public_message
        return {"error": {"code": self.code, "message": message}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class ConfigurationError(MediaKitError):
    """A setting has a bad value; raised at start-up and names the variable."""

    code = "configuration_error"

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


class BadRequest(MediaKitError):
    """The request is malformed (400)."""

    http_status = 400
    code = "bad_request"


class Unauthorized(MediaKitError):
    """No valid credentials were presented (401)."""

    http_status = 401
    code = "unauthorized"

    def __init__(
        self, message: str = "Authentication required.", *, challenge: str = "Bearer"
    ) -> None:
        """``challenge`` is the ``WWW-Authenticate`` value: the scheme the app expects."""
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(MediaKitError):
    """The principal may not do this (403)."""

    http_status = 403
    code = "forbidden"


class NotFound(MediaKitError):
    """The resource does not exist, or is hidden from this principal (404)."""

    http_status = 404
    code = "not_found"


class ObjectNotFound(NotFound):
    """The object store has no object under the key (404)."""

    code = "object_not_found"


class Conflict(MediaKitError):
    """The request conflicts with the current state (409)."""

    http_status = 409
    code = "conflict"


class PreconditionFailed(MediaKitError):
    """A conditional request's precondition failed (412)."""

    http_status = 412
    code = "precondition_failed"


class UploadTooLarge(MediaKitError):
    """A file, or a request in total, exceeds its size cap (413)."""

    http_status = 413
    code = "upload_too_large"


class UnsupportedMediaType(MediaKitError):
    """The content is not an allowed media type (415)."""

    http_status = 415
    code = "unsupported_media_type"


class RangeNotSatisfiable(MediaKitError):
    """No requested byte range overlaps the object (416)."""

    http_status = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int, message: str | None = None) -> None:
        super().__init__(
            message or f"The requested range is outside the object's {size} bytes.",
            headers={"Content-Range": f"bytes */{size}"},
        )
        self.size = size


class UnprocessableEntity(MediaKitError):
    """The request is well-formed but its values are invalid (422)."""

    http_status = 422
    code = "invalid_input"


class ProcessingError(UnprocessableEntity):
    """A media file could not be decoded or encoded (422)."""

    code = "processing_failed"


class TooManyRequests(MediaKitError):
    """A concurrency or rate limit was hit (429, with ``Retry-After``)."""

    http_status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = retry_after


class StorageError(MediaKitError):
    """The object store answered with an error (502)."""

    http_status = 502
    code = "storage_error"
    public_message = (
        "The media store answered with an error. Try again later; if it persists, "
        "the server log has the details."
    )


class StorageUnavailable(StorageError):
    """The object store could not be reached or is throttling (503)."""

    http_status = 503
    code = "storage_unavailable"
    public_message = (
        "The media store is unreachable or busy. Try again after the Retry-After delay."
    )

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
