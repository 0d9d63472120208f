"""The media stream route: the Range proxy (``GET``/``HEAD .../user/media/{id}/stream``).

Streams a track tier or an image through the app with ``StreamingResponse``, with Range
and conditional requests, and answers HEAD; access is checked on every request.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from mediakit.contract import PROXY_PATH
from mediakit.models import Principal
from mediakit.service import AsyncMediaService
from mediakit_fastapi._openapi import AUTH as _AUTH
from mediakit_fastapi._openapi import RANGE_RESPONSES as _RANGE_RESPONSES
from mediakit_fastapi._openapi import Id, ProxyQuality, Size
from mediakit_fastapi._openapi import errors as _errors
from mediakit_fastapi._routing import served as _served

__all__ = ["add_media_stream_routes"]


def add_media_stream_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """The Range proxy, for GET and HEAD."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    async def proxy(
        request: Request,
        svc: Svc,
        who: Who,
        media_id: Id,
        quality: ProxyQuality = None,
        size: Size = None,
    ) -> StreamingResponse:
        """Stream a track tier or an image through the app, with Range and conditional requests.

        Access is checked on every request, so hiding an item takes effect at once.
        """
        served = await svc.proxy(
            who,
            media_id,
            method=request.method,
            headers=request.headers,
            quality=quality,
            size=size,
        )
        return _served(served)

    proxy_responses = {**_RANGE_RESPONSES, **_errors(*_AUTH, 404, 409, 412, 416)}
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
