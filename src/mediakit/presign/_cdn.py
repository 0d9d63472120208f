"""CDN delivery: URLs on a CDN base URL, plain (public CDN) or CloudFront-signed.

Signed URLs use CloudFront's *canned policy*: the policy
``{"Statement":[{"Resource":URL,"Condition":{"DateLessThan":{"AWS:EpochTime":T}}}]}``
is signed with RSA-SHA1 (PKCS#1 v1.5, what CloudFront requires) under the private key
of a key pair in the distribution's trusted key group, and the URL gains
``Expires=T&Signature=...&Key-Pair-Id=...``.

Why hand-written around :mod:`cryptography` rather than calling botocore's
``CloudFrontSigner``: the policy and the URL are a few string operations that depend on
the signing window, which this module computes once per window; the RSA operation is
``cryptography``'s. The result equals botocore's URL byte for byte for the same inputs
and time (``tests/presign/test_cdn_botocore.py`` checks it with hypothesis).

An RSA-2048 signature costs about 300 µs, against a few µs for a SigV4 URL; a
CloudFront URL is therefore cached (:class:`~mediakit.presign.CachedSigner`) and only
signed once per object, response headers and signing window.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs

from mediakit.clock import Clock, system_clock
from mediakit.errors import BadRequest, ConfigurationError
from mediakit.presign._core import SignedUrl, resolve_window, signing_time, window_end
from mediakit.presign._sigv4 import _PATH_NEEDS_QUOTING, _quote_value
from mediakit.settings import (
    Settings,
    _cdn_base_url,
    _cloudfront_key_id,
    _cloudfront_private_key,
    _read_key_file,
)

__all__ = ["CdnSigner", "CloudFrontKey", "check_cdn_url"]

# CloudFront's URL-safe base64: + = / become - _ ~
_CF_B64 = bytes.maketrans(b"+=/", b"-_~")


def check_cdn_url(url: str) -> str:
    """Validate a CDN base URL and return it normalised: lower-case scheme and host, no
    default port, ending with one ``/``.

    Raises:
        ConfigurationError: not an absolute http(s) URL of plain ASCII URL characters,
            or it has a query string, fragment or user info (naming ``MEDIA_CDN_URL``).

    >>> check_cdn_url("HTTPS://D111111abcdef8.cloudfront.net:443/media")
    'https://d111111abcdef8.cloudfront.net/media/'
    """
    return _cdn_base_url(url)


@attrs.frozen
class CloudFrontKey:
    """A CloudFront key pair: the public key's id and the RSA private key.

    Build it with :meth:`from_pem`, :meth:`from_file` or :meth:`from_settings`; each
    checks the key at once.
    """

    key_id: str
    private_key: Any = attrs.field(repr=False)
    """A ``cryptography`` ``RSAPrivateKey``."""

    @classmethod
    def from_pem(
        cls, key_id: str, pem: str | bytes, *, env: str = "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY"
    ) -> CloudFrontKey:
        """The key pair from PEM text (PKCS#1 ``BEGIN RSA PRIVATE KEY`` or PKCS#8).

        Literal ``\\n`` sequences (a PEM squeezed into one line of an ``.env`` file) are
        read as line breaks.

        Raises:
            ConfigurationError: the key id is malformed, ``cryptography`` is missing,
                or the text is not an unencrypted RSA private key of 2048 bits or more;
                the message names ``env`` (or the key id's variable).
        """
        return cls(_cloudfront_key_id(key_id), _cloudfront_private_key(pem, env))

    @classmethod
    def from_file(
        cls,
        key_id: str,
        path: str | Path,
        *,
        env: str = "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE",
    ) -> CloudFrontKey:
        """The key pair from a PEM file (see :meth:`from_pem`).

        Raises:
            ConfigurationError: the file cannot be read, or :meth:`from_pem` refuses it.
        """
        return cls.from_pem(key_id, _read_key_file(str(path)), env=env)

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudFrontKey | None:
        """The key pair the CDN settings name, or ``None`` when they name none.

        Raises:
            ConfigurationError: as :meth:`from_pem` and :meth:`from_file`.
        """
        key_id = settings.cdn_cloudfront_key_id
        if key_id is None:
            return None
        if settings.cdn_cloudfront_private_key_file is not None:
            return cls.from_file(key_id, settings.cdn_cloudfront_private_key_file)
        if settings.cdn_cloudfront_private_key is None:
            raise ConfigurationError(
                "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY",
                "must be set (or ..._PRIVATE_KEY_FILE) when MEDIA_CDN_CLOUDFRONT_KEY_ID is set",
            )
        return cls.from_pem(key_id, settings.cdn_cloudfront_private_key)

    def sign(self, message: bytes) -> bytes:
        """RSA PKCS#1 v1.5 with SHA-1 over ``message``: CloudFront's signature scheme."""
        return bytes(self.private_key.sign(message, *_scheme()))


@functools.cache
def _scheme() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15(), hashes.SHA1()  # noqa: S303 - CloudFront requires SHA-1


@attrs.frozen
class _Window:
    start: int
    valid_until: int
    expires: str
    expires_at: datetime
    renew_at: datetime
    policy_tail: bytes
    """The canned policy after the resource URL."""
    query_head: str
    """``Expires=...&Signature=``."""


@attrs.define
class CdnSigner:
    """URLs for objects on a CDN: ``{base_url}{key}``, CloudFront-signed with a key.

    Args:
        base_url: the CDN's URL for the bucket's root, e.g.
            ``https://d111111abcdef8.cloudfront.net`` (a path prefix is allowed; a
            trailing ``/`` is optional).
        key: the CloudFront key pair; ``None`` makes plain, unsigned URLs, for a CDN
            that serves the media **publicly** (anyone with a URL, or who guesses a
            key, can fetch the object for as long as the CDN serves it).
        ttl: URL lifetime from its signing time, in seconds.
        window: signing-time window (``None``: a third of the TTL; at most half).
        clock: the time source.

    ``content_type`` and ``disposition`` become ``response-content-type`` and
    ``response-content-disposition`` query parameters, as on S3 URLs (signed URLs cover
    them). They take effect only if the CDN forwards these query strings to S3 (see
    the CDN how-to); otherwise S3 answers with the object's stored Content-Type.

    Signed URLs expire ``ttl`` seconds after the start of their signing window, so
    every process hands out the same URL within a window, and none lives longer than
    the TTL. Unsigned URLs do not expire; their ``expires_at`` follows the same rule,
    as a hint for when to ask for a fresh one.
    """

    base_url: str
    key: CloudFrontKey | None = attrs.field(default=None, kw_only=True)
    ttl: int = attrs.field(default=900, kw_only=True)
    window: int | None = attrs.field(default=None, kw_only=True)
    clock: Clock = attrs.field(default=system_clock, kw_only=True, repr=False)

    _win: int = attrs.field(init=False, repr=False)
    _prefix: str = attrs.field(init=False, repr=False)
    _policy_head: bytes = attrs.field(init=False, repr=False)
    _key_pair: str = attrs.field(init=False, repr=False)
    _state: _Window | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        self._win = resolve_window(self.ttl, self.window)
        self._prefix = check_cdn_url(self.base_url)
        self._policy_head = b'{"Statement":[{"Resource":"'
        self._key_pair = "" if self.key is None else f"&Key-Pair-Id={self.key.key_id}"

    def _build_window(self, now: float) -> _Window:
        start = signing_time(now, self._win)
        end = window_end(start, self._win)
        exp = start + self.ttl
        return _Window(
            start=start,
            valid_until=end,
            expires=str(exp),
            expires_at=datetime.fromtimestamp(exp, UTC),
            renew_at=datetime.fromtimestamp(end, UTC),
            policy_tail=f'","Condition":{{"DateLessThan":{{"AWS:EpochTime":{exp}}}}}}}]}}'.encode(),
            query_head=f"Expires={exp}&Signature=",
        )

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrl:
        """The CDN URL for ``key`` (CloudFront-signed if the signer has a key pair).

        Raises:
            BadRequest: ``key`` is empty.
        """
        if not key:
            raise BadRequest("An object key must not be empty.")
        now = self.clock.time()
        st = self._state
        if st is None or not (st.start <= now < st.valid_until):
            st = self._state = self._build_window(now)
        url = self._prefix + (
            quote(key, safe="/~") if _PATH_NEEDS_QUOTING(key) is not None else key
        )
        if content_type is not None:
            url += f"?response-content-type={_quote_value(content_type)}"
        if disposition is not None:
            sep = "&" if content_type is not None else "?"
            url += f"{sep}response-content-disposition={_quote_value(disposition)}"
        cf = self.key
        if cf is None:
            return SignedUrl(url, st.expires_at, st.renew_at)
        # The URL is ASCII without '"' or '\\' (checked base, percent-encoded rest), so
        # it goes into the JSON policy as json.dumps would write it.
        signature = cf.sign(self._policy_head + url.encode() + st.policy_tail)
        b64 = base64.b64encode(signature).translate(_CF_B64).decode()
        sep = "&" if "?" in url else "?"
        return SignedUrl(
            f"{url}{sep}{st.query_head}{b64}{self._key_pair}", st.expires_at, st.renew_at
        )
