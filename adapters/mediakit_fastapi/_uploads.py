"""Upload routes: the multipart body streams from ``request.stream()`` into the ingest
pipeline (no ``UploadFile`` spooling); all files of a request are stored, or none."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mediakit.contract import ADMIN_PATH
from mediakit.models import Principal
from mediakit.service import AsyncMediaService
from mediakit_fastapi._openapi import ADMIN, MULTIPART, Id, errors, ok
from mediakit_fastapi._routing import FastJSONResponse
from mediakit_fastapi._schemas import ImageList, TrackList

__all__ = ["add_image_upload_route", "add_track_upload_route"]


def add_image_upload_route(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """``POST .../images/upload``: one or many images."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.post(
        f"{ADMIN_PATH}/images/upload",
        tags=["admin"],
        status_code=201,
        openapi_extra=MULTIPART,
        responses={
            **ok(ImageList, "The created images.", 201),
            **errors(*ADMIN, 400, 413, 415, 429),
        },
    )
    async def upload_images(request: Request, svc: Svc, who: Who) -> FastJSONResponse:
        """Upload one or many images (multipart field `files`); all or nothing."""
        result = await svc.upload_images(
            who,
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
        )
        return FastJSONResponse(result, status_code=201)


def add_track_upload_route(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """``POST .../music-sets/{set_id}/tracks``: tracks appended to a set."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.post(
        f"{ADMIN_PATH}/music-sets/{{set_id}}/tracks",
        tags=["admin"],
        status_code=201,
        openapi_extra=MULTIPART,
        responses={
            **ok(TrackList, "The created tracks.", 201),
            **errors(*ADMIN, 400, 404, 413, 415, 429),
        },
    )
    async def upload_tracks(request: Request, svc: Svc, who: Who, set_id: Id) -> FastJSONResponse:
        """Add tracks to the end of a set (multipart field `files`); all or nothing."""
        result = await svc.upload_tracks(
            who,
            set_id,
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
        )
        return FastJSONResponse(result, status_code=201)
