"""The media stream route: the Range proxy (``GET``/``HEAD .../user/media/{id}/stream``).

Streams a track tier or an image through the app with ``StreamingResponse``, with Range
and conditional requests, and answers HEAD; access is checked on every request.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from mediakit.contract import PROXY_PATH
from mediakit.models import Principal
from mediakit.service import AsyncMediaService
from mediakit_fastapi._grants import principal_or_grant
from mediakit_fastapi._openapi import AUTH as _AUTH
from mediakit_fastapi._openapi import RANGE_RESPONSES as _RANGE_RESPONSES
from mediakit_fastapi._openapi import Id, ProxyQuality, Size
from mediakit_fastapi._openapi import errors as _errors
from mediakit_fastapi._routing import served as _served
from mediakit_fastapi._schemas import ErrorBody

__all__ = ["add_media_stream_routes"]


def add_media_stream_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """The Range proxy, for GET and HEAD."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    WhoOrGrant = Annotated[Principal | None, Depends(principal_or_grant(get_principal))]

    async def proxy(
        request: Request,
        svc: Svc,
        who: WhoOrGrant,
        media_id: Id,
        quality: ProxyQuality = None,
        size: Size = None,
        exp: Annotated[
            str | None, Query(description="Grant expiry (from a handed-out URL).")
        ] = None,
        sig: Annotated[
            str | None, Query(description="Grant signature (from a handed-out URL).")
        ] = None,
    ) -> Response:
        """Stream a track tier or an image through the app, with Range and conditional requests.

        Authorized by the caller's principal, or by the short-lived grant (`exp`, `sig`)
        of a URL the API handed out, so media elements need no header. Visibility is
        checked on every request, so hiding an item takes effect at once. With
        `MEDIA_DELIVERY=offload` the answer is an empty `X-Accel-Redirect` for nginx.
        """
        served = await svc.proxy(
            who,
            media_id,
            method=request.method,
            headers=request.headers,
            quality=quality,
            size=size,
            query=request.query_params,
        )
        return _served(served)

    proxy_responses = {
        **_RANGE_RESPONSES,
        **_errors(*_AUTH, 404, 409, 412, 416),
        403: {"model": ErrorBody, "description": "Tampered or expired URL grant."},
    }
    for method in ("GET", "HEAD"):
        router.add_api_route(
            f"{PROXY_PATH}/{{media_id}}/stream",
            proxy,
            methods=[method],
            operation_id=f"proxy_stream_{method.lower()}",
            tags=["media"],
            response_class=StreamingResponse,
            responses=proxy_responses,
        )
