# GENERATED from src/mediakit/service/_async.py by scripts/unasync.py: do not edit.
# Edit the async source and run `python scripts/unasync.py` (CI checks this file is fresh).
"""The media service: one method per endpoint, sequencing I/O only.

Every decision (who may see what, which object and headers to serve, field rules, the
JSON shape) is a call into :mod:`~mediakit.service._policy` or
:mod:`~mediakit.service._views`, and every database step is a shared function of
:mod:`~mediakit.service._steps`. The service only sequences those with the object
store and the signer.

Written once, for asyncio, in ``service/_async.py``; the sync service in
``service/_sync.py`` is generated from it by ``scripts/unasync.py``. What only the async
service does (database steps in a worker thread, awaited signing) is in
:mod:`mediakit.service._hops`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence

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
from mediakit.service._serving_sync import SyncServing
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
from mediakit.storage import ObjectStore
from mediakit.uploads.ingest import ingest_images, ingest_tracks
from mediakit.uploads.limits import UploadLimits
from mediakit.uploads.multipart import FilePart, FormField, MultipartReader

__all__ = ["MediaService"]

log = logging.getLogger("mediakit.service")


def _capture_fields(
    form: Iterable[FormField | FilePart], fields: dict[str, str]
) -> Iterator[FormField | FilePart]:
    """Pass the form through, remembering the optional text fields of an upload."""
    for item in form:
        if isinstance(item, FormField) and item.name in policy.UPLOAD_FIELDS:
            policy.check_upload_field(item.name, item.value)  # fail before any row exists
            fields[item.name] = item.value
        yield item


@attrs.define
class MediaService:
    """The use cases behind every endpoint: the async service for asyncio apps (FastAPI,
    Django ASGI), the sync one for WSGI apps, scripts and workers.

    Methods take the calling :class:`~mediakit.models.Principal` and return the
    contract's JSON as typed dicts (:class:`~mediakit.service.ImageView` and the
    like), or raise :class:`~mediakit.errors.MediaKitError`.
    """

    settings: Settings
    store: ObjectStore
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
    _serving: SyncServing = attrs.field(init=False)
    _limits: UploadLimits = attrs.field(init=False)
    _offload: Offload = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._serving = SyncServing(self.store, self.settings.proxy_chunk_size, self.info_cache)
        self._limits = UploadLimits.from_settings(self.settings)
        self._offload = Offload(
            self.settings.offload_location, delivery.offload_origins(self.settings)
        )

    # --- URLs and JSON ------------------------------------------------------------

    def _url(
        self, item_id: str, target: policy.ServeTarget, params: Mapping[str, str]
    ) -> SignedUrlLike:
        if self.settings.delivery != "presigned":
            return self._proxy_url(item_id, params)
        return self.signer.sign(
            target.key, content_type=target.content_type, disposition=target.disposition
        )

    def _proxy_url(self, item_id: str, params: Mapping[str, str]) -> SignedUrlLike:
        if self.grants is None:  # no signing secret wired: the proxy needs a principal
            return policy.proxy_url(
                mount_base(self.proxy_base, PROXY_PATH),
                item_id,
                params,
                self.clock.now(),
                self.settings.presign_ttl,
            )
        grant = self.grants.grant(item_id, policy.proxy_query(params))
        return delivery.grant_url(mount_base(self.proxy_base, PROXY_PATH), item_id, params, grant)

    def _image_json(self, image: Image) -> ImageView:
        original, thumbs = policy.image_targets(image)
        return views.image_view(
            image,
            self._url(image.id, original, {}),
            {name: self._url(image.id, t, {"size": name}) for name, t in thumbs.items()},
        )

    def _delete_objects(self, owned: Sequence[str], prefix: str) -> None:
        # Rows are already gone: nobody gets a new URL for these objects. A storage
        # failure here leaves orphans for `mediakit gc`, never a row without its bytes.
        try:
            doomed = set(owned)
            for key in self.store.list_keys(prefix):
                doomed.add(key)
            self.store.delete_many(sorted(doomed))
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

    def list_images(
        self,
        principal: Principal,
        *,
        admin: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PageView[ImageView]:
        """A page of images, newest first: visible ones, or all for ``admin`` listings."""
        if admin:
            policy.require_admin(principal)
        page = steps.list_images(self.repos, admin=admin, limit=limit, cursor=cursor)
        return views.page_view([self._image_json(i) for i in page.items], page.next_cursor)

    def get_image(self, principal: Principal, image_id: str, *, admin: bool = False) -> ImageView:
        """One image with its URLs; a hidden one is ``NotFound`` for non-admins."""
        if admin:
            policy.require_admin(principal)
        return self._image_json(steps.load_image(self.repos, principal, image_id))

    def update_image(
        self,
        principal: Principal,
        image_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        visible: bool | None = None,
    ) -> ImageView:
        """Change an image's title, description or visibility (admins)."""
        policy.require_admin(principal)
        changes = policy.image_changes(
            self.clock.now(), title=title, description=description, visible=visible
        )
        image = steps.update_image(self.repos, principal, image_id, changes)
        return self._image_json(image)

    def delete_image(self, principal: Principal, image_id: str) -> None:
        """Delete an image and every object it owns (admins): the row first, then the objects."""
        policy.require_admin(principal)
        image = steps.remove_image(self.repos, principal, image_id)
        self._delete_objects(image.object_keys(), keys.image_prefix(image_id))

    def upload_images(
        self,
        principal: Principal,
        body: Iterable[bytes],
        *,
        content_type: str | None,
        content_length: int | str | None = None,
    ) -> UploadView[ImageView]:
        """Stream a multipart body of images into the store (admins): ``{"items": [...]}``.

        All or nothing (see :mod:`mediakit.uploads.ingest`); the optional ``title`` and
        ``visible`` fields apply to every image; processing is queued afterwards.
        """
        policy.require_admin(principal)
        with self.limiter.hold(principal.id):
            reader = MultipartReader(
                body, content_type=content_type, content_length=content_length, limits=self._limits
            )
            fields: dict[str, str] = {}
            images = ingest_images(
                _capture_fields(reader, fields),
                store=self.store,
                repos=self.repos,
                principal=principal,
                clock=self.clock,
                max_pixels=self.settings.image_max_pixels,
            )
        changes = policy.upload_changes(fields, self.clock.now())
        images = self._finish_images(images, changes)
        return {"items": [self._image_json(i) for i in images]}

    def _finish_images(self, images: list[Image], changes: dict[str, object]) -> list[Image]:
        # One item per stored file, the row as created when it is gone by the final
        # read (never a shorter list than the upload).
        if changes:
            images = [self.repos.images.update(i.id, changes) for i in images]
        self._submit("process_image", "image_id", [i.id for i in images])
        return [self.repos.images.get(i.id) or i for i in images]

    # --- music sets ---------------------------------------------------------------

    def create_music_set(
        self,
        principal: Principal,
        *,
        title: str,
        description: str | None = None,
        visible: bool | None = None,
    ) -> MusicSetDetail:
        """Create an empty music set (admins); hidden unless ``visible``."""
        policy.require_admin(principal)
        music_set = steps.create_music_set(
            self.repos,
            principal,
            self.clock.now(),
            title,
            description,
            visible,
        )
        return views.music_set_view(music_set, 0, [])

    def list_music_sets(
        self,
        principal: Principal,
        *,
        admin: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PageView[MusicSetView]:
        """A page of music sets: visible ones, or all for ``admin`` listings."""
        if admin:
            policy.require_admin(principal)
        rows, next_cursor = steps.list_music_sets(
            self.repos, admin=admin, limit=limit, cursor=cursor
        )
        return views.page_view([views.music_set_view(s, n) for s, n in rows], next_cursor)

    def get_music_set(
        self, principal: Principal, set_id: str, *, admin: bool = False
    ) -> MusicSetDetail:
        """A music set with its tracks in order; a hidden one is ``NotFound`` for non-admins."""
        if admin:
            policy.require_admin(principal)
        music_set, tracks = steps.load_music_set(self.repos, principal, set_id)
        return views.music_set_view(music_set, len(tracks), tracks)

    def update_music_set(
        self,
        principal: Principal,
        set_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        visible: bool | None = None,
    ) -> MusicSetDetail:
        """Change a set's title, description or visibility (admins); the detail view."""
        policy.require_admin(principal)
        changes = policy.music_set_changes(
            self.clock.now(), title=title, description=description, visible=visible
        )
        music_set, tracks = steps.update_music_set(self.repos, principal, set_id, changes)
        return views.music_set_view(music_set, len(tracks), tracks)

    def set_music_set_visibility(
        self, principal: Principal, set_id: str, visible: bool
    ) -> MusicSetDetail:
        """Show or hide a music set (admins)."""
        return self.update_music_set(principal, set_id, visible=visible)

    def delete_music_set(self, principal: Principal, set_id: str) -> None:
        """Delete a set, its tracks and all their objects (admins): rows first, then objects."""
        policy.require_admin(principal)
        owned = steps.remove_music_set(self.repos, principal, set_id)
        self._delete_objects(owned, keys.music_set_prefix(set_id))

    # --- tracks -------------------------------------------------------------------

    def upload_tracks(
        self,
        principal: Principal,
        set_id: str,
        body: Iterable[bytes],
        *,
        content_type: str | None,
        content_length: int | str | None = None,
    ) -> UploadView[TrackView]:
        """Stream a multipart body of audio files to the end of a set (admins)."""
        policy.require_admin(principal)
        steps.load_music_set(self.repos, principal, set_id)
        with self.limiter.hold(principal.id):
            reader = MultipartReader(
                body, content_type=content_type, content_length=content_length, limits=self._limits
            )
            fields: dict[str, str] = {}
            tracks = ingest_tracks(
                set_id,
                _capture_fields(reader, fields),
                store=self.store,
                repos=self.repos,
                principal=principal,
                clock=self.clock,
            )
        changes = policy.track_upload_changes(fields, self.clock.now())
        done = self._finish_tracks(tracks, changes)
        return {"items": [views.track_view(t) for t in done]}

    def _finish_tracks(self, tracks: list[Track], changes: dict[str, object]) -> list[Track]:
        # See _finish_images.
        if changes:
            tracks = [self.repos.tracks.update(t.id, changes) for t in tracks]
        self._submit("process_track", "track_id", [t.id for t in tracks])
        return [self.repos.tracks.get(t.id) or t for t in tracks]

    def update_track(
        self, principal: Principal, set_id: str, track_id: str, *, title: str | None = None
    ) -> TrackView:
        """Rename a track (admins)."""
        policy.require_admin(principal)
        changes = policy.track_changes(self.clock.now(), title=title)
        track = steps.update_track(self.repos, principal, set_id, track_id, changes)
        return views.track_view(track)

    def delete_track(self, principal: Principal, set_id: str, track_id: str) -> None:
        """Delete a track and its objects (admins); the other tracks keep their order."""
        policy.require_admin(principal)
        track = steps.remove_track(self.repos, principal, set_id, track_id)
        self._delete_objects(track.object_keys(), keys.track_prefix(set_id, track_id))

    def reorder_tracks(
        self, principal: Principal, set_id: str, track_ids: Sequence[str]
    ) -> MusicSetDetail:
        """Put a set's tracks in the given order (exactly the set's tracks; admins)."""
        policy.require_admin(principal)
        music_set, tracks = steps.reorder_tracks(self.repos, principal, set_id, track_ids)
        return views.music_set_view(music_set, len(tracks), tracks)

    def stream_url(
        self, principal: Principal, set_id: str, track_id: str, quality: str | None = None
    ) -> StreamUrl:
        """A URL streaming one tier of a track (the configured default when none is named)."""
        track = steps.load_track(self.repos, principal, set_id, track_id)
        tier = policy.parse_quality(quality, self.settings.audio_quality_default)
        target = policy.track_stream_target(track, tier, pre_encode=self.settings.audio_pre_encode)
        signed = self._url(track.id, target, {"quality": target.label})
        return views.stream_view(signed, target.label, target.content_type)

    def download_url(self, principal: Principal, set_id: str, track_id: str) -> DownloadUrl:
        """A URL serving a track's original as an attachment named after the upload."""
        track = steps.load_track(self.repos, principal, set_id, track_id)
        target = policy.track_download_target(track)
        signed = self._url(track.id, target, {"quality": "original"})
        return views.download_view(signed, track.filename)

    # --- serving bytes ------------------------------------------------------------

    def proxy(
        self,
        principal: Principal | None,
        media_id: str,
        *,
        method: str,
        headers: Mapping[str, str],
        quality: str | None = None,
        size: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> ServedObject[Iterator[bytes]]:
        """Serve a track tier or an image through the Range proxy, checking access each time.

        The caller is ``principal``; without one, the ``exp``/``sig`` grant in ``query``
        (from a URL this service handed out) must be valid for this media and variant
        (``Forbidden`` when tampered or expired, ``Unauthorized`` when absent). Either
        way the item's visibility is checked now: hidden or deleted is ``NotFound``.
        With ``MEDIA_DELIVERY=offload`` the answer is an empty ``X-Accel-Redirect``.
        """
        who = delivery.proxy_principal(
            principal, self.grants, media_id, delivery.proxy_variant(quality, size), query
        )
        target = steps.proxy_target(
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
            signed = self.signer.sign(
                target.key,
                content_type=safe_content_type(target.content_type),
                disposition=target.disposition,
            )
            return self._serving.offload(
                target.key,
                signed.url,
                method,
                headers,
                target.content_type,
                target.disposition,
                self._offload,
            )
        return self._serving.serve(
            target.key, method, headers, target.content_type, target.disposition
        )

    def serve_local(
        self, key: str, query: Mapping[str, str], *, method: str, headers: Mapping[str, str]
    ) -> ServedObject[Iterator[bytes]]:
        """Serve a signed URL of the filesystem store (``Forbidden`` if tampered or expired)."""
        if self.local is None:
            raise NotFound("This server does not serve local files; its store is not local.")
        grant = self.local.verify(key, query)
        return self._serving.serve(key, method, headers, grant.content_type, grant.disposition)
