"""The local-file route: serves the signed URLs of the filesystem store (the embedded
default), checking the signature and expiry, with Range and conditional requests."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import StreamingResponse

from mediakit.contract import LOCAL_PATH
from mediakit.service import AsyncMediaService
from mediakit_fastapi._openapi import RANGE_RESPONSES, errors
from mediakit_fastapi._routing import served
from mediakit_fastapi._schemas import ErrorBody

__all__ = ["add_local_file_routes"]


def add_local_file_routes(router: APIRouter, service: Callable[..., Any]) -> None:
    """The local-file route, for GET and HEAD (no principal: the URL is the grant)."""
    Svc = Annotated[AsyncMediaService, Depends(service)]

    async def local_file(
        request: Request, svc: Svc, key: Annotated[str, Path(description="Object key.")]
    ) -> Response:
        """Serve a signed URL of the filesystem store (the embedded default)."""
        result = await svc.serve_local(
            key, dict(request.query_params), method=request.method, headers=request.headers
        )
        return served(result)

    responses = {
        **RANGE_RESPONSES,
        403: {"model": ErrorBody, "description": "Tampered or expired URL."},
        **errors(404, 412, 416, 422),
    }
    for method in ("GET", "HEAD"):
        router.add_api_route(
            f"{LOCAL_PATH}/{{key:path}}",
            local_file,
            methods=[method],
            operation_id=f"local_file_{method.lower()}",
            tags=["media"],
            response_class=StreamingResponse,
            responses=responses,
        )
