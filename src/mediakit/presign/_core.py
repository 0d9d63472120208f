"""Pure presign values and window arithmetic: no I/O, no clock, no crypto.

The *signing window* makes URLs stable. The signing time is the current time rounded
down to a multiple of ``window`` seconds, and a URL expires ``ttl`` seconds after its
signing time. So, within one window, every process signs the same inputs at the same
time and hands out the same URL (browsers and CDNs can cache it), and every URL handed
out still has at least ``ttl - window`` seconds to live. ``window`` is at most half the
TTL, so that floor is at least half the TTL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from mediakit.errors import ConfigurationError

__all__ = [
    "MAX_SIGV4_TTL",
    "SignedUrl",
    "UrlSigner",
    "resolve_window",
    "signing_time",
    "window_end",
]

MAX_SIGV4_TTL = 7 * 24 * 3600
"""SigV4 refuses presigned URLs that live longer than seven days."""


@attrs.frozen
class SignedUrl:
    """A URL that grants a GET of one object until ``expires_at``."""

    url: str
    expires_at: datetime
    """When the URL stops working: an aware UTC datetime."""
    renew_at: datetime | None = attrs.field(default=None, eq=False)
    """When the signer starts handing out a newer URL for the same object (the end of the
    signing window); caches keep this URL until then. ``None``: unknown."""


@runtime_checkable
class UrlSigner(Protocol):
    """Anything that turns an object key into a time-limited URL."""

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """A URL for ``key``; the response will carry the given Content-Type/-Disposition."""
        ...


def resolve_window(ttl: int, window: int | None) -> int:
    """Validate ``ttl`` and ``window`` (``None``: a third of the TTL) and return the window.

    Raises:
        ConfigurationError: the TTL is not positive, or the window is negative or more
            than half the TTL.
    """
    if ttl <= 0:
        raise ConfigurationError("MEDIA_PRESIGN_TTL_SECONDS", f"must be positive; got {ttl}")
    if window is None:
        return ttl // 3
    if window < 0 or window * 2 > ttl:
        raise ConfigurationError(
            "MEDIA_PRESIGN_WINDOW_SECONDS",
            f"must be between 0 and half the TTL ({ttl // 2}); got {window}",
        )
    return window


def signing_time(now: float, window: int) -> int:
    """The signing time for ``now``: rounded down to a multiple of ``window`` seconds.

    A window of 0 disables rounding (the time is only truncated to whole seconds, the
    resolution of SigV4 timestamps).

    >>> signing_time(1000.9, 300)
    900
    >>> signing_time(1000.9, 0)
    1000
    """
    t = int(now // 1)
    return t - t % window if window else t


def window_end(start: int, window: int) -> int:
    """The first second that belongs to the next signing window.

    >>> window_end(900, 300)
    1200
    >>> window_end(1000, 0)
    1001
    """
    return start + (window or 1)
