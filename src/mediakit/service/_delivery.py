"""Pure decisions of proxy and offload delivery: grant URLs, who a request acts as, and
where nginx may be sent.

``MEDIA_DELIVERY=proxy`` and ``offload`` hand out URLs of the app's Range proxy that carry
a short signed grant (:class:`~mediakit.presign._local.GrantSigner`), so ``<img>`` and
``<audio>`` work without an Authorization header. A grant stands in for the header only:
the request then acts as an ordinary user, so a hidden or deleted item is a 404 at once,
whatever the grant says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

import attrs

from mediakit.errors import Unauthorized
from mediakit.models import Principal
from mediakit.presign._local import GrantSigner, ProxyGrant
from mediakit.presign._sigv4 import aws_endpoint
from mediakit.service._policy import proxy_query
from mediakit.settings import Settings

__all__ = [
    "GRANT_PARAMS",
    "GRANT_PRINCIPAL",
    "GrantedUrl",
    "grant_url",
    "has_grant",
    "offload_origins",
    "proxy_principal",
    "proxy_variant",
]

GRANT_PARAMS = ("exp", "sig")
"""The query parameters of a grant."""

GRANT_PRINCIPAL = Principal("mediakit:url-grant", is_admin=False)
"""Who a request holding a valid grant acts as: a user, never an admin (hidden is 404)."""


@attrs.frozen
class GrantedUrl:
    """A proxy URL with its grant; ``expires_at`` is the grant's expiry."""

    url: str
    expires_at: datetime
    renew_at: datetime | None = None


def proxy_variant(quality: str | None, size: str | None) -> str:
    """The canonical variant query a grant is bound to (``quality=high``, ``size=w640``)."""
    params = {}
    if quality is not None:
        params["quality"] = quality
    if size is not None:
        params["size"] = size
    return proxy_query(params)


def grant_url(base: str, item_id: str, params: Mapping[str, str], grant: ProxyGrant) -> GrantedUrl:
    """The proxy URL serving ``item_id`` as ``params``, with ``grant`` appended."""
    variant = proxy_query(params)
    query = f"{variant}&{grant.query}" if variant else grant.query
    return GrantedUrl(f"{base}/{item_id}/stream?{query}", grant.expires_at, grant.renew_at)


def has_grant(query: Mapping[str, str] | None) -> bool:
    """True when a request's query carries grant parameters (then the grant decides)."""
    return query is not None and any(p in query for p in GRANT_PARAMS)


def proxy_principal(
    principal: Principal | None,
    grants: GrantSigner | None,
    media_id: str,
    variant: str,
    query: Mapping[str, str] | None,
) -> Principal:
    """Who a proxy request acts as: the caller, else the holder of a valid grant.

    Raises:
        Forbidden: the URL's grant is tampered with or expired.
        Unauthorized: neither a principal nor a grant.
    """
    if principal is not None:
        return principal
    if grants is not None and query is not None and has_grant(query):
        grants.verify(media_id, variant, query)
        return GRANT_PRINCIPAL
    raise Unauthorized(
        "Send 'Authorization: Bearer <token>', or use a media URL handed out by the API "
        "(it carries a short-lived grant)."
    )


def offload_origins(settings: Settings) -> tuple[str, ...]:
    """The origins a presigned URL may have to be offloaded: the configured endpoint's
    (path-style), or its bucket subdomain (virtual-host style)."""
    parts = urlsplit(settings.s3_endpoint or aws_endpoint(settings.s3_region))
    path = f"{parts.scheme}://{parts.netloc}"
    return (path, f"{parts.scheme}://{settings.assets_bucket}.{parts.netloc}")
