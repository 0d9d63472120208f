"""What the routes declare: parameter types and the responses OpenAPI documents.

Every bound and choice comes from :mod:`mediakit.contract`, so the documented schema,
FastAPI's validation and the service's own checks cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from mediakit import contract
from mediakit.uploads import FILES_FIELD
from mediakit_fastapi._schemas import ErrorBody

__all__ = [
    "ADMIN",
    "AUTH",
    "MULTIPART",
    "RANGE_RESPONSES",
    "Cursor",
    "Id",
    "Limit",
    "ProxyQuality",
    "Quality",
    "Size",
    "errors",
    "ok",
]

_ERRORS: dict[int, str] = {
    400: "Malformed request (multipart body, no files, bad cursor).",
    401: "Missing or invalid bearer token.",
    403: "An admin endpoint called without an admin token.",
    404: "Absent, or hidden from this user.",
    409: "Not ready: the quality tier is not encoded yet.",
    412: "A precondition (If-Match, If-Unmodified-Since) failed.",
    413: "A file or the request exceeds its size cap.",
    415: "A file is not an allowed media type (nothing was stored).",
    416: "No requested byte range overlaps the object.",
    422: "Invalid input (JSON body, query parameter).",
    429: "Too many uploads in flight for this admin; see Retry-After.",
    502: "The object store answered with an error.",
    503: "The object store is unreachable or throttling; see Retry-After.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the error ``codes``, each in the error shape."""
    return {c: {"model": ErrorBody, "description": _ERRORS[c]} for c in codes}


def ok(model: type, description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI response of a success."""
    return {status: {"model": model, "description": description}}


AUTH = (401, 422, 502, 503)
"""Errors of every authenticated route."""
ADMIN = (*AUTH, 403)
"""Errors of every admin route."""

MULTIPART: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILES_FIELD],
                    "properties": {
                        FILES_FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files (repeat the field).",
                        },
                        "title": {"type": "string", "description": "Title for every file."},
                        "visible": {
                            "type": "string",
                            "enum": ["true", "false"],
                            "description": "Visibility of every uploaded image.",
                        },
                    },
                }
            }
        },
    }
}
"""The request body of the upload routes (read by the route itself, not by FastAPI)."""

RANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole object.", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range.", "content": {"application/octet-stream": {}}},
    304: {"description": "Not modified (If-None-Match / If-Modified-Since)."},
}
"""The success responses of the byte routes."""

Limit = Annotated[
    int, Query(ge=contract.MIN_LIMIT, le=contract.MAX_LIMIT, description="Page size.")
]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Quality = Annotated[
    contract.StreamTier | None,
    Query(description="Streaming tier; default from MEDIA_AUDIO_QUALITY_DEFAULT."),
]
ProxyQuality = Annotated[
    contract.ProxyQuality | None,
    Query(description="Track tier; `original` serves the upload as an attachment."),
]
Size = Annotated[str | None, Query(description="Image thumbnail (`w640`); default: original.")]
Id = Annotated[str, Path(description="Item id.")]
