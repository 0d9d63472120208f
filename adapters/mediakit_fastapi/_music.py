"""Music routes: the admin's sets and tracks, the user's sets and stream/download URLs."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from mediakit.contract import ADMIN_PATH, DEFAULT_LIMIT, USER_PATH
from mediakit.models import Principal
from mediakit.service import AsyncMediaService
from mediakit_fastapi._openapi import ADMIN, AUTH, Cursor, Id, Limit, Quality, errors, ok
from mediakit_fastapi._routing import FastJSONResponse
from mediakit_fastapi._schemas import (
    DownloadUrl,
    MusicSetCreate,
    MusicSetDetail,
    MusicSetList,
    MusicSetUpdate,
    StreamUrl,
    TrackOrder,
    TrackOut,
    TrackUpdate,
    Visibility,
)

__all__ = ["add_admin_set_routes", "add_admin_track_routes", "add_user_music_routes"]


def add_admin_set_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """Create, list, read, update, show/hide and delete music sets as an admin."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.post(
        f"{ADMIN_PATH}/music-sets",
        tags=["admin"],
        status_code=201,
        responses={**ok(MusicSetDetail, "The new set.", 201), **errors(*ADMIN)},
    )
    async def create_music_set(svc: Svc, who: Who, body: MusicSetCreate) -> FastJSONResponse:
        """Create a music set (hidden unless `visible` is true)."""
        result = await svc.create_music_set(who, **body.model_dump())
        return FastJSONResponse(result, status_code=201)

    @router.get(
        f"{ADMIN_PATH}/music-sets",
        tags=["admin"],
        responses={**ok(MusicSetList, "Every set, hidden too."), **errors(*ADMIN, 400)},
    )
    async def admin_list_music_sets(
        svc: Svc, who: Who, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> FastJSONResponse:
        """List every music set, hidden ones included."""
        return FastJSONResponse(
            await svc.list_music_sets(who, admin=True, limit=limit, cursor=cursor)
        )

    @router.get(
        f"{ADMIN_PATH}/music-sets/{{set_id}}",
        tags=["admin"],
        responses={**ok(MusicSetDetail, "The set with its tracks."), **errors(*ADMIN, 404)},
    )
    async def admin_get_music_set(svc: Svc, who: Who, set_id: Id) -> FastJSONResponse:
        """One music set with its tracks, hidden or not."""
        return FastJSONResponse(await svc.get_music_set(who, set_id, admin=True))

    @router.put(
        f"{ADMIN_PATH}/music-sets/{{set_id}}",
        tags=["admin"],
        responses={**ok(MusicSetDetail, "The updated set."), **errors(*ADMIN, 404)},
    )
    async def update_music_set(
        svc: Svc, who: Who, set_id: Id, body: MusicSetUpdate
    ) -> FastJSONResponse:
        """Change a set's title, description or visibility."""
        return FastJSONResponse(await svc.update_music_set(who, set_id, **body.model_dump()))

    @router.put(
        f"{ADMIN_PATH}/music-sets/{{set_id}}/visibility",
        tags=["admin"],
        responses={**ok(MusicSetDetail, "The updated set."), **errors(*ADMIN, 404)},
    )
    async def set_visibility(svc: Svc, who: Who, set_id: Id, body: Visibility) -> FastJSONResponse:
        """Show or hide a music set."""
        return FastJSONResponse(await svc.set_music_set_visibility(who, set_id, body.visible))

    @router.delete(
        f"{ADMIN_PATH}/music-sets/{{set_id}}",
        tags=["admin"],
        status_code=204,
        responses=errors(*ADMIN, 404),
    )
    async def delete_music_set(svc: Svc, who: Who, set_id: Id) -> Response:
        """Delete a set, its tracks and all their objects."""
        await svc.delete_music_set(who, set_id)
        return Response(status_code=204)


def add_admin_track_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """Reorder, rename and delete a set's tracks as an admin (uploads: ``_uploads``)."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.put(
        f"{ADMIN_PATH}/music-sets/{{set_id}}/tracks/order",
        tags=["admin"],
        responses={**ok(MusicSetDetail, "The set in its new order."), **errors(*ADMIN, 404)},
    )
    async def reorder_tracks(svc: Svc, who: Who, set_id: Id, body: TrackOrder) -> FastJSONResponse:
        """Reorder a set's tracks; `track_ids` must be exactly its tracks."""
        return FastJSONResponse(await svc.reorder_tracks(who, set_id, body.track_ids))

    @router.put(
        f"{ADMIN_PATH}/music-sets/{{set_id}}/tracks/{{track_id}}",
        tags=["admin"],
        responses={**ok(TrackOut, "The updated track."), **errors(*ADMIN, 404)},
    )
    async def update_track(
        svc: Svc, who: Who, set_id: Id, track_id: Id, body: TrackUpdate
    ) -> FastJSONResponse:
        """Rename a track."""
        return FastJSONResponse(await svc.update_track(who, set_id, track_id, title=body.title))

    @router.delete(
        f"{ADMIN_PATH}/music-sets/{{set_id}}/tracks/{{track_id}}",
        tags=["admin"],
        status_code=204,
        responses=errors(*ADMIN, 404),
    )
    async def delete_track(svc: Svc, who: Who, set_id: Id, track_id: Id) -> Response:
        """Delete a track and its objects."""
        await svc.delete_track(who, set_id, track_id)
        return Response(status_code=204)


def add_user_music_routes(
    router: APIRouter, service: Callable[..., Any], get_principal: Callable[..., Any]
) -> None:
    """List and read visible sets; hand out stream and download URLs of their tracks."""
    Svc = Annotated[AsyncMediaService, Depends(service)]
    Who = Annotated[Principal, Depends(get_principal)]

    @router.get(
        f"{USER_PATH}/music-sets",
        tags=["user"],
        responses={**ok(MusicSetList, "Visible sets."), **errors(*AUTH, 400)},
    )
    async def list_music_sets(
        svc: Svc, who: Who, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> FastJSONResponse:
        """List visible music sets."""
        return FastJSONResponse(await svc.list_music_sets(who, limit=limit, cursor=cursor))

    @router.get(
        f"{USER_PATH}/music-sets/{{set_id}}",
        tags=["user"],
        responses={**ok(MusicSetDetail, "The set with its tracks."), **errors(*AUTH, 404)},
    )
    async def get_music_set(svc: Svc, who: Who, set_id: Id) -> FastJSONResponse:
        """A visible music set with its tracks (and their processing status)."""
        return FastJSONResponse(await svc.get_music_set(who, set_id))

    @router.get(
        f"{USER_PATH}/music-sets/{{set_id}}/stream/{{track_id}}",
        tags=["user"],
        responses={**ok(StreamUrl, "A stream URL."), **errors(*AUTH, 404, 409)},
    )
    async def stream_url(
        svc: Svc, who: Who, set_id: Id, track_id: Id, quality: Quality = None
    ) -> FastJSONResponse:
        """A time-limited URL streaming the track at `quality`."""
        return FastJSONResponse(await svc.stream_url(who, set_id, track_id, quality))

    @router.get(
        f"{USER_PATH}/music-sets/{{set_id}}/download/{{track_id}}",
        tags=["user"],
        responses={**ok(DownloadUrl, "A download URL."), **errors(*AUTH, 404)},
    )
    async def download_url(svc: Svc, who: Who, set_id: Id, track_id: Id) -> FastJSONResponse:
        """A time-limited URL downloading the original as an attachment."""
        return FastJSONResponse(await svc.download_url(who, set_id, track_id))
