"""HMAC-signed, expiring URLs for the embedded filesystem store.

A URL looks like ``/api/v1/media/local/images/ab/orig.jpg?exp=1700000900&ct=image%2Fjpeg&sig=...``:
the key, the expiry and the response headers it asks for (``ct``: Content-Type, ``cd``:
Content-Disposition) are all covered by an HMAC-SHA256 under a server secret, so none
of them can be changed. The adapters serve the route and call :meth:`LocalUrlSigner.verify`.

Signing times follow the same stable windows as S3 presigning (see :mod:`mediakit.presign._core`).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import attrs

from mediakit.clock import Clock, system_clock
from mediakit.errors import BadRequest, ConfigurationError, Forbidden
from mediakit.presign._core import SignedUrl, resolve_window, signing_time, window_end

__all__ = ["DEFAULT_LOCAL_BASE_PATH", "GrantSigner", "LocalGrant", "LocalUrlSigner", "ProxyGrant"]

DEFAULT_LOCAL_BASE_PATH = "/api/v1/media/local"
"""Where the adapters mount the route serving filesystem-store objects."""

_DIGITS = re.compile(r"[0-9]{1,15}")


@attrs.frozen
class LocalGrant:
    """What a verified local URL allows: a GET answered with these headers."""

    content_type: str | None
    disposition: str | None


@attrs.define
class LocalUrlSigner:
    """Sign and verify URLs served by the app itself (filesystem store).

    Args:
        base_path: URL path prefix of the serving route (no trailing slash).
        secret: the HMAC key; keep it the same across processes and restarts for
            stable URLs (``MEDIAKIT_SIGNING_SECRET``).
        ttl: URL lifetime from its signing time, in seconds.
        window: signing-time window (``None``: a third of the TTL; at most half).
        clock: the time source.
    """

    base_path: str = DEFAULT_LOCAL_BASE_PATH
    secret: bytes = attrs.field(default=b"", repr=False)
    ttl: int = attrs.field(default=900, kw_only=True)
    window: int | None = attrs.field(default=None, kw_only=True)
    clock: Clock = attrs.field(default=system_clock, kw_only=True, repr=False)
    _win: int = attrs.field(init=False, repr=False)
    _state: tuple[int, int, str, datetime, datetime] | None = attrs.field(
        init=False, default=None, repr=False
    )

    def __attrs_post_init__(self) -> None:
        self._win = resolve_window(self.ttl, self.window)
        if len(self.secret) < 16:
            raise ConfigurationError(
                "MEDIAKIT_SIGNING_SECRET", "must be at least 16 bytes long (use 32 random bytes)"
            )
        self.base_path = self.base_path.rstrip("/")

    def _mac(self, key: str, exp: str, ct: str | None, cd: str | None) -> str:
        # JSON keeps the fields unambiguous (no separator a key could contain).
        msg = json.dumps(["mediakit-local-v1", key, exp, ct, cd], separators=(",", ":"))
        digest = hmac.digest(self.secret, msg.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """A signed URL for ``key`` under :attr:`base_path`.

        Raises:
            BadRequest: ``key`` is empty.
        """
        if not key:
            raise BadRequest("An object key must not be empty.")
        now = self.clock.time()
        st = self._state
        if st is None or not (st[0] <= now < st[1]):
            start = signing_time(now, self._win)
            end = window_end(start, self._win)
            exp_at = start + self.ttl
            st = self._state = (
                start,
                end,
                str(exp_at),
                datetime.fromtimestamp(exp_at, UTC),
                datetime.fromtimestamp(end, UTC),
            )
        exp = st[2]
        query = f"exp={exp}"
        if content_type is not None:
            query += f"&ct={quote(content_type, safe='')}"
        if disposition is not None:
            query += f"&cd={quote(disposition, safe='')}"
        sig = self._mac(key, exp, content_type, disposition)
        url = f"{self.base_path}/{quote(key, safe='/~')}?{query}&sig={sig}"
        return SignedUrl(url, st[3], st[4])

    def verify(self, key: str, query: Mapping[str, str]) -> LocalGrant:
        """Check a request for ``key`` with the (decoded) query parameters of its URL.

        Returns:
            the response headers the URL was signed for.

        Raises:
            Forbidden: the signature is missing or does not match (code
                ``url_signature_invalid``), or the URL has expired (code ``url_expired``).
        """
        sig = query.get("sig")
        exp = query.get("exp")
        if not sig or exp is None or not _DIGITS.fullmatch(exp):
            raise Forbidden(
                "This media URL is incomplete (no signature or expiry); request a new one.",
                code="url_signature_invalid",
            )
        ct, cd = query.get("ct"), query.get("cd")
        expected = self._mac(key, exp, ct, cd)
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            raise Forbidden(
                "This media URL's signature does not match; it was altered or signed with "
                "another secret. Request a new one.",
                code="url_signature_invalid",
            )
        if int(exp) <= self.clock.time():
            expired = datetime.fromtimestamp(int(exp), UTC).isoformat()
            raise Forbidden(
                f"This media URL expired at {expired}; request a new one.", code="url_expired"
            )
        return LocalGrant(ct, cd)


@attrs.frozen
class ProxyGrant:
    """A signed grant to append to a URL of the app's Range proxy."""

    query: str
    """``exp=...&sig=...``: the expiry and the HMAC, URL-ready."""
    expires_at: datetime
    """When the grant stops working (aware UTC)."""
    renew_at: datetime
    """The end of the signing window: from then on a newer grant is handed out."""


@attrs.define
class GrantSigner:
    """Short-lived grants for the app's own Range proxy (``MEDIA_DELIVERY=proxy|offload``).

    Media elements (``<img>``, ``<audio>``) send no Authorization header, so the proxy
    URLs handed out carry ``exp`` and ``sig``: an HMAC-SHA256, under the signing secret,
    of the media id, the variant (the proxy URL's canonical ``quality``/``size`` query)
    and the expiry. The grant is the same for every request within a signing window
    (stable URLs, like presigned ones). It only stands in for the Authorization header:
    the proxy still checks the item's visibility on every request.

    Hand-written (a few lines over :mod:`hmac`) because the format is the one of
    :class:`LocalUrlSigner`, and the verification must stay allocation-light on the
    media hot path.
    """

    secret: bytes = attrs.field(repr=False)
    ttl: int = attrs.field(default=900, kw_only=True)
    window: int | None = attrs.field(default=None, kw_only=True)
    clock: Clock = attrs.field(default=system_clock, kw_only=True, repr=False)
    _win: int = attrs.field(init=False, repr=False)
    _state: tuple[int, int, str, datetime, datetime] | None = attrs.field(
        init=False, default=None, repr=False
    )

    def __attrs_post_init__(self) -> None:
        self._win = resolve_window(self.ttl, self.window)
        if len(self.secret) < 16:
            raise ConfigurationError(
                "MEDIAKIT_SIGNING_SECRET", "must be at least 16 bytes long (use 32 random bytes)"
            )

    def _mac(self, media_id: str, variant: str, exp: str) -> str:
        msg = json.dumps(["mediakit-grant-v1", media_id, variant, exp], separators=(",", ":"))
        digest = hmac.digest(self.secret, msg.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def grant(self, media_id: str, variant: str) -> ProxyGrant:
        """The grant for ``media_id`` served as ``variant`` (e.g. ``quality=high``, or ``""``)."""
        now = self.clock.time()
        st = self._state
        if st is None or not (st[0] <= now < st[1]):
            start = signing_time(now, self._win)
            end = window_end(start, self._win)
            exp_at = start + self.ttl
            st = self._state = (
                start,
                end,
                str(exp_at),
                datetime.fromtimestamp(exp_at, UTC),
                datetime.fromtimestamp(end, UTC),
            )
        sig = self._mac(media_id, variant, st[2])
        return ProxyGrant(f"exp={st[2]}&sig={sig}", st[3], st[4])

    def verify(self, media_id: str, variant: str, query: Mapping[str, str]) -> None:
        """Check the ``exp``/``sig`` of a request for ``media_id`` as ``variant``.

        Raises:
            Forbidden: the grant is incomplete or does not match this media and variant
                (code ``url_signature_invalid``), or it has expired (``url_expired``).
        """
        sig = query.get("sig")
        exp = query.get("exp")
        if not sig or exp is None or not _DIGITS.fullmatch(exp):
            raise Forbidden(
                "This media URL is incomplete (no signature or expiry); request a new one "
                "from the API, or send an Authorization header.",
                code="url_signature_invalid",
            )
        expected = self._mac(media_id, variant, exp)
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            raise Forbidden(
                "This media URL's signature does not match; it was altered (its id, "
                "quality, size or expiry) or signed with another secret. Request a new one.",
                code="url_signature_invalid",
            )
        if int(exp) <= self.clock.time():
            expired = datetime.fromtimestamp(int(exp), UTC).isoformat()
            raise Forbidden(
                f"This media URL expired at {expired}; request a new one.", code="url_expired"
            )
