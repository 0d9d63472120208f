"""The asynchronous media service, twin of :class:`~mediakit.service.MediaService`.

Same methods, same decisions (the pure :mod:`~mediakit.service._policy` and
:mod:`~mediakit.service._views`), same database steps (:mod:`~mediakit.service._steps`).
What differs is only how I/O is done:

- the object store is an :class:`~mediakit.storage.AsyncObjectStore` (aioboto3, or a
  thread bridge over a sync store), so streaming never blocks the event loop;
- URLs are signed with ``asign`` when the signer has it (singleflight across tasks);
- repositories are synchronous (SQLAlchemy Core, memory), so each use case's database
  step runs in a worker thread, in one ``anyio.to_thread.run_sync`` hop per request.
  That is a deliberate trade: a few tens of microseconds per request instead of a
  second, async copy of every repository. Read-only steps on repositories that read
  in process without waiting (a SQLite file in WAL mode, memory:
  :attr:`Repositories.reads_in_process <mediakit.repositories.Repositories.reads_in_process>`)
  run inline instead: there the hop costs more than the query.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from typing import ParamSpec, TypeVar

import anyio.to_thread
import attrs

from mediakit import keys
from mediakit.clock import Clock, system_clock
from mediakit.contract import PROXY_PATH
from mediakit.errors import MediaKitError, NotFound
from mediakit.http.plan import safe_content_type
from mediakit.models import Image, Principal, Track
from mediakit.presign._local import GrantSigner
from mediakit.proxy import ObjectInfoCache
from mediakit.repositories import Repositories
from mediakit.service import _delivery as delivery
from mediakit.service import _policy as policy
from mediakit.service import _steps as steps
from mediakit.service import _views as views
from mediakit.service._mount import mount_base
from mediakit.service._ports import (
    JobRunner,
    LocalVerifier,
    SignedUrlLike,
    UploadLimiter,
    UrlSigner,
)
from mediakit.service._serving import Offload, ServedObject
from mediakit.service._serving_async import AsyncServing
from mediakit.service._views import (
    DownloadUrl,
    ImageView,
    MusicSetDetail,
    MusicSetView,
    PageView,
    StreamUrl,
    TrackView,
    UploadView,
)
from mediakit.settings import Settings
from mediakit.storage import AsyncObjectStore
from mediakit.uploads.ingest import aingest_images, aingest_tracks
from mediakit.uploads.limits import UploadLimits
from mediakit.uploads.multipart import AsyncFilePart, AsyncMultipartReader, FormField

__all__ = ["AsyncMediaService"]

log = logging.getLogger("mediakit.service")
P = ParamSpec("P")
R = TypeVar("R")


async def _capture_fields(
    form: AsyncIterable[FormField | AsyncFilePart], fields: dict[str, str]
) -> AsyncIterator[FormField | AsyncFilePart]:
    """Pass the form through, remembering the optional text fields of an upload."""
    async for item in form:
        if isinstance(item, FormField) and item.name in policy.UPLOAD_FIELDS:
            policy.check_upload_field(item.name, item.value)  # fail before any row exists
            fields[item.name] = item.value
        yield item


@attrs.define
class AsyncMediaService:
    """The use cases behind every endpoint, for asyncio apps (FastAPI, Django ASGI)."""

    settings: Settings
    store: AsyncObjectStore
    repos: Repositories
    signer: UrlSigner
    limiter: UploadLimiter
    runner: JobRunner
    clock: Clock = system_clock
    local: LocalVerifier | None = None
    """Verifier of filesystem-store URLs; ``None`` when the store is not local."""
    proxy_base: str = "/api/v1/user/media"
    """Path of the Range proxy, used in URLs when ``settings.delivery == "proxy"``."""
    info_cache: ObjectInfoCache | None = None
    """HEAD results of write-once keys, shared by the twins (forgotten on delete)."""
    grants: GrantSigner | None = None
    """Signs and checks the grants of proxy URLs (``MEDIA_DELIVERY=proxy|offload``);
    ``None``: proxy URLs carry no grant and the proxy needs a principal."""
    _serving: AsyncServing = attrs.field(init=False)
    _limits: UploadLimits = attrs.field(init=False)
    _offload: Offload = attrs.field(init=False)
    _inline_reads: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._inline_reads = bool(getattr(self.repos, "reads_in_process", False))
        self._serving = AsyncServing(self.store, self.settings.proxy_chunk_size, self.info_cache)
        self._limits = UploadLimits.from_settings(self.settings)
        self._offload = Offload(
            self.settings.offload_location, delivery.offload_origins(self.settings)
        )

    async def _db(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one synchronous database step in a worker thread."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    async def _read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one read-only database step: inline when the repositories read in
        process without waiting (SQLite file, memory), else in a worker thread."""
        if self._inline_reads:
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    # --- URLs and JSON ------------------------------------------------------------

    async def _url(
        self, item_id: str, target: policy.ServeTarget, params: Mapping[str, str]
    ) -> SignedUrlLike:
        if self.settings.delivery != "presigned":
            return self._proxy_url(item_id, params)
        asign = getattr(self.signer, "asign", None)
        if asign is None:
            return self.signer.sign(
                target.key, content_type=target.content_type, disposition=target.disposition
            )
        signed: SignedUrlLike = await asign(
            target.key, content_type=target.content_type, disposition=target.disposition
        )
        return signed

    def _proxy_url(self, item_id: str, params: Mapping[str, str]) -> SignedUrlLike:
        """See :meth:`MediaService._proxy_url`."""
        if self.grants is None:
            return policy.proxy_url(
                mount_base(self.proxy_base, PROXY_PATH),
                item_id,
                params,
                self.clock.now(),
                self.settings.presign_ttl,
            )
        grant = self.grants.grant(item_id, policy.proxy_query(params))
        return delivery.grant_url(mount_base(self.proxy_base, PROXY_PATH), item_id, params, grant)

    async def _image_json(self, image: Image) -> ImageView:
        original, thumbs = policy.image_targets(image)
        asign = getattr(self.signer, "asign", None)
        if asign is not None and self.settings.delivery == "presigned":
            # _url inlined for the common case: listings sign 4 URLs per image
            return views.image_view(
                image,
                await asign(
                    original.key,
                    content_type=original.content_type,
                    disposition=original.disposition,
                ),
                {
                    name: await asign(t.key, content_type=t.content_type, disposition=t.disposition)
                    for name, t in thumbs.items()
                },
            )
        return views.image_view(
            image,
            await self._url(image.id, original, {}),
            {name: await self._url(image.id, t, {"size": name}) for name, t in thumbs.items()},
        )

    async def _delete_objects(self, owned: Sequence[str], prefix: str) -> None:
        # See MediaService._delete_objects: rows are gone first; failures leave orphans.
        try:
            found = [k async for k in self.store.list_keys(prefix)]
            await self.store.delete_many(sorted({*owned, *found}))
        except MediaKitError:
            log.warning("could not delete objects under %r; gc will", prefix, exc_info=True)
        finally:
            for key in owned:
                if self.info_cache is not None:
                    self.info_cache.discard(key)

    def _submit(self, task: str, arg: str, ids: Sequence[str]) -> None:
        for item_id in ids:
            try:
                self.runner.submit(task, **{arg: item_id})
            except Exception:
                log.exception("could not queue %s for %s; it stays pending", task, item_id)

    # --- images -------------------------------------------------------------------

    async def list_images(
        self,
        principal: Principal,
        *,
        admin: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PageView[ImageView]:
        """See :meth:`MediaService.list_images`."""
        if admin:
            policy.require_admin(principal)
        page = await self._read(
            steps.list_images, self.repos, admin=admin, limit=limit, cursor=cursor
        )
        return views.page_view([await self._image_json(i) for i in page.items], page.next_cursor)

    async def get_image(
        self, principal: Principal, image_id: str, *, admin: bool = False
    ) -> ImageView:
        """See :meth:`MediaService.get_image`."""
        if admin:
            policy.require_admin(principal)
        return await self._image_json(
            await self._read(steps.load_image, self.repos, principal, image_id)
        )

    async def update_image(
        self,
        principal: Principal,
        image_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        visible: bool | None = None,
    ) -> ImageView:
        """See :meth:`MediaService.update_image`."""
        policy.require_admin(principal)
        changes = policy.image_changes(
            self.clock.now(), title=title, description=description, visible=visible
        )
        image = await self._db(steps.update_image, self.repos, principal, image_id, changes)
        return await self._image_json(image)

    async def delete_image(self, principal: Principal, image_id: str) -> None:
        """See :meth:`MediaService.delete_image`."""
        policy.require_admin(principal)
        image = await self._db(steps.remove_image, self.repos, principal, image_id)
        await self._delete_objects(image.object_keys(), keys.image_prefix(image_id))

    async def upload_images(
        self,
        principal: Principal,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        content_length: int | str | None = None,
    ) -> UploadView[ImageView]:
        """See :meth:`MediaService.upload_images`."""
        policy.require_admin(principal)
        async with self.limiter.ahold(principal.id):
            reader = AsyncMultipartReader(
                body, content_type=content_type, content_length=content_length, limits=self._limits
            )
            fields: dict[str, str] = {}
            images = await aingest_images(
                _capture_fields(reader, fields),
                store=self.store,
                repos=self.repos,
                principal=principal,
                clock=self.clock,
                max_pixels=self.settings.image_max_pixels,
            )
        changes = policy.upload_changes(fields, self.clock.now())
        images = await self._db(self._finish_images, images, changes)
        return {"items": [await self._image_json(i) for i in images]}

    def _finish_images(self, images: list[Image], changes: dict[str, object]) -> list[Image]:
        # As MediaService.upload_images: one item per stored file, the row as created
        # when it is gone by the final read (never a shorter list than the upload).
        if changes:
            images = [self.repos.images.update(i.id, changes) for i in images]
        self._submit("process_image", "image_id", [i.id for i in images])
        return [self.repos.images.get(i.id) or i for i in images]

    # --- music sets ---------------------------------------------------------------

    async def create_music_set(
        self,
        principal: Principal,
        *,
        title: str,
        description: str | None = None,
        visible: bool | None = None,
    ) -> MusicSetDetail:
        """See :meth:`MediaService.create_music_set`."""
        policy.require_admin(principal)
        music_set = await self._db(
            steps.create_music_set,
            self.repos,
            principal,
            self.clock.now(),
            title,
            description,
            visible,
        )
        return views.music_set_view(music_set, 0, [])

    async def list_music_sets(
        self,
        principal: Principal,
        *,
        admin: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PageView[MusicSetView]:
        """See :meth:`MediaService.list_music_sets`."""
        if admin:
            policy.require_admin(principal)
        rows, next_cursor = await self._read(
            steps.list_music_sets, self.repos, admin=admin, limit=limit, cursor=cursor
        )
        return views.page_view([views.music_set_view(s, n) for s, n in rows], next_cursor)

    async def get_music_set(
        self, principal: Principal, set_id: str, *, admin: bool = False
    ) -> MusicSetDetail:
        """See :meth:`MediaService.get_music_set`."""
        if admin:
            policy.require_admin(principal)
        music_set, tracks = await self._read(steps.load_music_set, self.repos, principal, set_id)
        return views.music_set_view(music_set, len(tracks), tracks)

    async def update_music_set(
        self,
        principal: Principal,
        set_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        visible: bool | None = None,
    ) -> MusicSetDetail:
        """See :meth:`MediaService.update_music_set`."""
        policy.require_admin(principal)
        changes = policy.music_set_changes(
            self.clock.now(), title=title, description=description, visible=visible
        )
        music_set, tracks = await self._db(
            steps.update_music_set, self.repos, principal, set_id, changes
        )
        return views.music_set_view(music_set, len(tracks), tracks)

    async def set_music_set_visibility(
        self, principal: Principal, set_id: str, visible: bool
    ) -> MusicSetDetail:
        """See :meth:`MediaService.set_music_set_visibility`."""
        return await self.update_music_set(principal, set_id, visible=visible)

    async def delete_music_set(self, principal: Principal, set_id: str) -> None:
        """See :meth:`MediaService.delete_music_set`."""
        policy.require_admin(principal)
        owned = await self._db(steps.remove_music_set, self.repos, principal, set_id)
        await self._delete_objects(owned, keys.music_set_prefix(set_id))

    # --- tracks -------------------------------------------------------------------

    async def upload_tracks(
        self,
        principal: Principal,
        set_id: str,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        content_length: int | str | None = None,
    ) -> UploadView[TrackView]:
        """See :meth:`MediaService.upload_tracks`."""
        policy.require_admin(principal)
        await self._read(steps.load_music_set, self.repos, principal, set_id)
        async with self.limiter.ahold(principal.id):
            reader = AsyncMultipartReader(
                body, content_type=content_type, content_length=content_length, limits=self._limits
            )
            fields: dict[str, str] = {}
            tracks = await aingest_tracks(
                set_id,
                _capture_fields(reader, fields),
                store=self.store,
                repos=self.repos,
                principal=principal,
                clock=self.clock,
            )
        changes = policy.track_upload_changes(fields, self.clock.now())
        done = await self._db(self._finish_tracks, tracks, changes)
        return {"items": [views.track_view(t) for t in done]}

    def _finish_tracks(self, tracks: list[Track], changes: dict[str, object]) -> list[Track]:
        # See _finish_images.
        if changes:
            tracks = [self.repos.tracks.update(t.id, changes) for t in tracks]
        self._submit("process_track", "track_id", [t.id for t in tracks])
        return [self.repos.tracks.get(t.id) or t for t in tracks]

    async def update_track(
        self, principal: Principal, set_id: str, track_id: str, *, title: str | None = None
    ) -> TrackView:
        """See :meth:`MediaService.update_track`."""
        policy.require_admin(principal)
        changes = policy.track_changes(self.clock.now(), title=title)
        track = await self._db(steps.update_track, self.repos, principal, set_id, track_id, changes)
        return views.track_view(track)

    async def delete_track(self, principal: Principal, set_id: str, track_id: str) -> None:
        """See :meth:`MediaService.delete_track`."""
        policy.require_admin(principal)
        track = await self._db(steps.remove_track, self.repos, principal, set_id, track_id)
        await self._delete_objects(track.object_keys(), keys.track_prefix(set_id, track_id))

    async def reorder_tracks(
        self, principal: Principal, set_id: str, track_ids: Sequence[str]
    ) -> MusicSetDetail:
        """See :meth:`MediaService.reorder_tracks`."""
        policy.require_admin(principal)
        music_set, tracks = await self._db(
            steps.reorder_tracks, self.repos, principal, set_id, track_ids
        )
        return views.music_set_view(music_set, len(tracks), tracks)

    async def stream_url(
        self, principal: Principal, set_id: str, track_id: str, quality: str | None = None
    ) -> StreamUrl:
        """See :meth:`MediaService.stream_url`."""
        track = await self._read(steps.load_track, self.repos, principal, set_id, track_id)
        tier = policy.parse_quality(quality, self.settings.audio_quality_default)
        target = policy.track_stream_target(track, tier, pre_encode=self.settings.audio_pre_encode)
        signed = await self._url(track.id, target, {"quality": target.label})
        return views.stream_view(signed, target.label, target.content_type)

    async def download_url(self, principal: Principal, set_id: str, track_id: str) -> DownloadUrl:
        """See :meth:`MediaService.download_url`."""
        track = await self._read(steps.load_track, self.repos, principal, set_id, track_id)
        target = policy.track_download_target(track)
        signed = await self._url(track.id, target, {"quality": "original"})
        return views.download_view(signed, track.filename)

    # --- serving bytes ------------------------------------------------------------

    async def proxy(
        self,
        principal: Principal | None,
        media_id: str,
        *,
        method: str,
        headers: Mapping[str, str],
        quality: str | None = None,
        size: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> ServedObject[AsyncIterator[bytes]]:
        """See :meth:`MediaService.proxy`."""
        who = delivery.proxy_principal(
            principal, self.grants, media_id, delivery.proxy_variant(quality, size), query
        )
        target = await self._read(
            steps.proxy_target,
            self.repos,
            who,
            media_id,
            quality=quality,
            size=size,
            default_quality=self.settings.audio_quality_default,
            pre_encode=self.settings.audio_pre_encode,
        )
        if self.settings.delivery == "offload":
            # S3's answer carries the signed type, and nginx keeps it: allowlist it here.
            signed = await self._sign(
                attrs.evolve(target, content_type=safe_content_type(target.content_type))
            )
            return await self._serving.offload(
                target.key,
                signed.url,
                method,
                headers,
                target.content_type,
                target.disposition,
                self._offload,
            )
        return await self._serving.serve(
            target.key, method, headers, target.content_type, target.disposition
        )

    async def _sign(self, target: policy.ServeTarget) -> SignedUrlLike:
        asign = getattr(self.signer, "asign", None)
        if asign is None:
            return self.signer.sign(
                target.key, content_type=target.content_type, disposition=target.disposition
            )
        signed: SignedUrlLike = await asign(
            target.key, content_type=target.content_type, disposition=target.disposition
        )
        return signed

    async def serve_local(
        self, key: str, query: Mapping[str, str], *, method: str, headers: Mapping[str, str]
    ) -> ServedObject[AsyncIterator[bytes]]:
        """See :meth:`MediaService.serve_local`."""
        if self.local is None:
            raise NotFound("This server does not serve local files; its store is not local.")
        grant = self.local.verify(key, query)
        return await self._serving.serve(
            key, method, headers, grant.content_type, grant.disposition
        )
