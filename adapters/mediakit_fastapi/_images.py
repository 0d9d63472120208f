"""Image routes: the admin's management and the user's reading."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from mediakit.contract import ADMIN_PATH, DEFAULT_LIMIT, USER_PATH
from mediakit.models import Principal
from mediakit.service import AsyncMediaService
from mediakit_fastapi._openapi import ADMIN, AUTH, Cursor, Id, Limit, errors, ok
from mediakit_fastapi._routing import FastJSONResponse
from mediakit_fastapi._schemas import ImageList, ImageOut, ImageUpdate

__all__ = ["add_admin_image_routes", "add_user_image_routes"]


def add_admin_image_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """List, read, update and delete images as an admin (hidden ones included)."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.get(
        f"{ADMIN_PATH}/images",
        tags=["admin"],
        responses={**ok(ImageList, "Every image, hidden too."), **errors(*ADMIN, 400)},
    )
    async def admin_list_images(
        svc: Svc, who: Who, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> FastJSONResponse:
        """List every image, hidden ones included, newest first."""
        return FastJSONResponse(await svc.list_images(who, admin=True, limit=limit, cursor=cursor))

    @router.get(
        f"{ADMIN_PATH}/images/{{image_id}}",
        tags=["admin"],
        responses={**ok(ImageOut, "The image."), **errors(*ADMIN, 404)},
    )
    async def admin_get_image(svc: Svc, who: Who, image_id: Id) -> FastJSONResponse:
        """One image, hidden or not."""
        return FastJSONResponse(await svc.get_image(who, image_id, admin=True))

    @router.put(
        f"{ADMIN_PATH}/images/{{image_id}}",
        tags=["admin"],
        responses={**ok(ImageOut, "The updated image."), **errors(*ADMIN, 404)},
    )
    async def update_image(svc: Svc, who: Who, image_id: Id, body: ImageUpdate) -> FastJSONResponse:
        """Change an image's title, description or visibility."""
        return FastJSONResponse(await svc.update_image(who, image_id, **body.model_dump()))

    @router.delete(
        f"{ADMIN_PATH}/images/{{image_id}}",
        tags=["admin"],
        status_code=204,
        responses=errors(*ADMIN, 404),
    )
    async def delete_image(svc: Svc, who: Who, image_id: Id) -> Response:
        """Delete an image and every object it owns."""
        await svc.delete_image(who, image_id)
        return Response(status_code=204)


def add_user_image_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """List and read visible images with their URLs."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.get(
        f"{USER_PATH}/images",
        tags=["user"],
        responses={**ok(ImageList, "Visible images."), **errors(*AUTH, 400)},
    )
    async def list_images(
        svc: Svc, who: Who, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> FastJSONResponse:
        """List visible images with their URLs, newest first."""
        return FastJSONResponse(await svc.list_images(who, limit=limit, cursor=cursor))

    @router.get(
        f"{USER_PATH}/images/{{image_id}}",
        tags=["user"],
        responses={**ok(ImageOut, "The image."), **errors(*AUTH, 404)},
    )
    async def get_image(svc: Svc, who: Who, image_id: Id) -> FastJSONResponse:
        """One visible image with URLs of its original and thumbnails."""
        return FastJSONResponse(await svc.get_image(who, image_id))
