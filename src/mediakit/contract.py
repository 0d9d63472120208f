"""The HTTP contract's constants and small rules, in one place.

The service, both adapters and their schemas import these instead of keeping copies:
the quality tiers, the field lengths, the page-size bounds, the paths the routers serve
below their mount point, and the bearer-token matching of the ready-made principal
resolvers. Pure: no I/O, no framework.

```python
from mediakit.contract import MAX_LIMIT, STREAM_TIERS, bearer_token, find_token

assert STREAM_TIERS == ("low", "medium", "high") and MAX_LIMIT == 100
assert bearer_token("Bearer  abc ") == "abc" and bearer_token("Basic abc") is None
assert find_token("b", {"a": 1, "b": 2}) == 2
```
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Literal, TypeVar, get_args

__all__ = [
    "ADMIN_PATH",
    "API_ROOT",
    "BEARER_HINT",
    "DEFAULT_LIMIT",
    "LOCAL_PATH",
    "MAX_DESCRIPTION",
    "MAX_LIMIT",
    "MAX_TITLE",
    "MIN_LIMIT",
    "PROXY_PATH",
    "PROXY_QUALITIES",
    "STREAM_TIERS",
    "USER_PATH",
    "ProxyQuality",
    "StreamTier",
    "bearer_token",
    "find_token",
]

T = TypeVar("T")

# --- qualities ------------------------------------------------------------------------

StreamTier = Literal["low", "medium", "high"]
"""A streaming tier of a track (the ``quality`` of the stream-URL endpoint)."""
STREAM_TIERS: tuple[StreamTier, ...] = get_args(StreamTier)
"""Streaming tiers in the order the JSON lists them."""
ProxyQuality = Literal[StreamTier, "original"]
"""What the Range proxy serves of a track: a streaming tier, or the upload itself."""
PROXY_QUALITIES: tuple[ProxyQuality, ...] = get_args(ProxyQuality)
"""The streaming tiers, then ``"original"``."""

# --- fields and pages -----------------------------------------------------------------

MAX_TITLE = 200
"""Longest title of an image, a music set or a track, in characters."""
MAX_DESCRIPTION = 5000
"""Longest description, in characters."""
MIN_LIMIT = 1
"""Smallest page size of a listing."""
MAX_LIMIT = 100
"""Largest page size of a listing."""
DEFAULT_LIMIT = 50
"""Page size of a listing that names none."""

# --- paths below an adapter's mount point ----------------------------------------------

API_ROOT = "/api/v1"
"""The first segments of every path of the API (each path contains it once)."""
ADMIN_PATH = f"{API_ROOT}/admin"
"""Where the admin endpoints live."""
USER_PATH = f"{API_ROOT}/user"
"""Where the user endpoints live."""
PROXY_PATH = f"{USER_PATH}/media"
"""Where the adapters mount the Range proxy (``{PROXY_PATH}/{id}/stream``)."""
LOCAL_PATH = f"{API_ROOT}/media/local"
"""Where the adapters serve filesystem-store URLs (``{LOCAL_PATH}/{key}``)."""

# --- bearer tokens --------------------------------------------------------------------

BEARER_HINT = "Send 'Authorization: Bearer <token>'."
"""The 401 message of the bearer-token resolvers when no token was sent."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or ``None``.

    The scheme is case-insensitive (RFC 9110 11.1); surrounding spaces are dropped.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def find_token(presented: str, table: Mapping[str, T]) -> T | None:
    """The value of ``presented`` in ``table``, compared in constant time.

    Every known token is compared (no early exit), so the time taken tells nothing
    about which token nearly matched.
    """
    wanted = presented.encode()
    found: T | None = None
    for token, value in table.items():
        if hmac.compare_digest(wanted, token.encode()):
            found = value
    return found
