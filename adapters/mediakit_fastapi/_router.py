"""The router factory: every endpoint of the HTTP API over the kit's async service.

The routes live in one module per group (images, music, uploads, the media stream, the
local files); this module only assembles them. Each route turns the request into a
principal and a service call, and the result into a response; no rule lives here.
"""

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from fastapi import APIRouter
from fastapi.params import Depends

from mediakit.service import AsyncMediaService, MediaKit
from mediakit_fastapi._images import add_admin_image_routes, add_user_image_routes
from mediakit_fastapi._local import add_local_file_routes
from mediakit_fastapi._music import (
    add_admin_set_routes,
    add_admin_track_routes,
    add_user_music_routes,
)
from mediakit_fastapi._routing import MAX_JSON_BODY, MediaKitRoute
from mediakit_fastapi._stream import add_media_stream_routes
from mediakit_fastapi._uploads import add_image_upload_route, add_track_upload_route

__all__ = ["MAX_JSON_BODY", "create_router"]


def create_router(
    kit: MediaKit,
    *,
    get_principal: Callable[..., Any],
    prefix: str = "",
    tags: Sequence[str | Enum] | None = None,
    dependencies: Sequence[Depends] | None = None,
    responses: dict[int | str, dict[str, Any]] | None = None,
    deprecated: bool | None = None,
    include_in_schema: bool = True,
) -> APIRouter:
    """An :class:`~fastapi.APIRouter` with every mediakit endpoint.

    Mount it like any router: ``app.include_router(create_router(kit, ...),
    prefix="/media")``, or inside another ``APIRouter``. The URLs the kit hands out
    (Range proxy, local files) follow wherever the request reached the routes:
    ``include_router`` prefixes, mounted sub-applications and the server's
    ``root_path`` included. Each route answers mediakit's errors in mediakit's shape
    itself (see [`MediaKitRoute`][mediakit_fastapi.MediaKitRoute]): the app's own
    routes, exception handlers, 404s and 405s are untouched.

    Args:
        kit: the parts, from [`build_service`][mediakit.service.build_service].
        get_principal: a FastAPI dependency returning the caller's
            [`Principal`][mediakit.models.Principal], or raising
            [`Unauthorized`][mediakit.errors.Unauthorized]; see
            [`bearer_token_principal`][mediakit_fastapi.bearer_token_principal].
        prefix: a path prefix of the router itself (the same as passing it to
            ``include_router``; give it in one of the two places).
        tags: OpenAPI tags added to every route (each keeps its own: ``admin``,
            ``user``, ``media``).
        dependencies: dependencies run before every route, the byte routes included
            (e.g. a rate limit, an API-key check); their ``HTTPException`` keeps the
            app's error shape.
        responses: extra OpenAPI responses of every route.
        deprecated: mark every route deprecated in OpenAPI.
        include_in_schema: list the routes in OpenAPI.
    """
    aservice = kit.aservice

    async def service() -> AsyncMediaService:
        """The kit's async service: the dependency every route receives it through."""
        return aservice

    router = APIRouter(
        prefix=prefix.rstrip("/"),
        tags=list(tags or []),
        dependencies=list(dependencies or []),
        responses=responses,
        deprecated=deprecated,
        include_in_schema=include_in_schema,
        route_class=MediaKitRoute,
    )
    # Registration order is Starlette's matching order (and OpenAPI's path order, which
    # Swagger UI groups by tag anyway): a request is matched against the routes one by
    # one, about 2 us each, so the routes every seek and page hits come first. The
    # paths do not overlap across these groups, so the order changes no match.
    add_media_stream_routes(router, service, get_principal)
    add_user_music_routes(router, service, get_principal)
    add_user_image_routes(router, service, get_principal)
    add_local_file_routes(router, service)
    add_image_upload_route(router, service, get_principal)
    add_admin_image_routes(router, service, get_principal)
    add_admin_set_routes(router, service, get_principal)
    add_track_upload_route(router, service, get_principal)
    add_admin_track_routes(router, service, get_principal)
    return router
