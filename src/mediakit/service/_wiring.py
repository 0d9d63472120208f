"""The composition root: settings in, a ready :class:`MediaKit` out.

:func:`build_service` picks every part from :class:`~mediakit.settings.Settings`:

- object store: ``MEDIAKIT_STORAGE`` (S3 via boto3 + aioboto3, filesystem, memory); the
  local stores are shared by both twins through a thread bridge;
- repositories: SQL from ``MEDIAKIT_DATABASE_URL`` (SQLite or PostgreSQL), migrated at
  start; pass ``repos=`` to use others (memory in tests, the Django ORM);
- signer: CDN URLs when ``MEDIA_CDN_ENABLED`` (CloudFront-signed with a key), native SigV4
  for S3, HMAC-signed local URLs otherwise, behind the cache;
- upload limiter: in-process, or Redis when ``MEDIAKIT_REDIS_URL`` is set;
- job runner: ``MEDIAKIT_JOB_RUNNER`` (inline, thread pool, dramatiq).

Everything is overridable by keyword, so tests and apps swap one part and keep the rest.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import attrs

from mediakit.clock import Clock, system_clock
from mediakit.contract import LOCAL_PATH, PROXY_PATH
from mediakit.errors import ConfigurationError
from mediakit.preflight import enforce, preflight
from mediakit.presign import CachedSigner, LocalUrlSigner, build_signer
from mediakit.presign._local import GrantSigner
from mediakit.processing.jobs import DramatiqRunner as _QueueRunner
from mediakit.processing.jobs import runner_from_settings
from mediakit.processing.tasks import ProcessingContext
from mediakit.proxy import ObjectInfoCache
from mediakit.repositories import Repositories
from mediakit.service._async import AsyncMediaService
from mediakit.service._mount import MountedSigner
from mediakit.service._ports import JobRunner, UploadLimiter, UrlSigner
from mediakit.service._sync import MediaService
from mediakit.settings import Settings
from mediakit.storage import (
    AsyncObjectStore,
    ObjectStore,
    ThreadedAsyncStore,
    build_async_object_store,
    build_object_store,
)
from mediakit.uploads import limiter_from_settings
from mediakit.values import AsyncClosable, Closable

if TYPE_CHECKING:
    from mediakit.repositories.sql import SqlRepositories

__all__ = ["LOCAL_PATH", "PROXY_PATH", "MediaKit", "build_service"]

log = logging.getLogger("mediakit.service")


@attrs.define
class MediaKit:
    """Every part of a running mediakit, wired together; close it at shutdown.

    ``service`` is the sync use-case layer (WSGI, scripts), ``aservice`` its async twin
    (ASGI). Both share the store's bucket, the repositories, the signer and the limiter.
    """

    settings: Settings
    store: ObjectStore
    astore: AsyncObjectStore
    repos: Repositories
    signer: CachedSigner
    limiter: UploadLimiter
    runner: JobRunner
    service: MediaService
    aservice: AsyncMediaService
    clock: Clock = system_clock

    async def astart(self) -> None:
        """Pay the start-up costs now, not on the first request: the async store's
        client (aioboto3: its service model, endpoint rules, TLS context and connection
        pool, 0.1-1.3 s on a first request otherwise) and the statements of the hot
        reads (compiled once by SQLAlchemy). The boto3 client exists since
        :func:`build_service`.

        Call it on the event loop that serves requests (the FastAPI lifespan, the
        Django ASGI handler's ``lifespan.startup``): the client's connection pool is
        bound to that loop. Idempotent; contacts neither S3 nor anything but the
        database."""
        warm = getattr(self.astore, "warm", None)
        if warm is not None:
            await warm()
        await anyio.to_thread.run_sync(self._warm_reads)

    def _warm_reads(self) -> None:
        # the reads of a listing and a proxied request, of ids that do not exist
        with contextlib.suppress(Exception):  # a database down now is a 503 later
            self.repos.images.get("")
            self.repos.tracks.get_with_set_visibility("")
            self.repos.images.list(visible_only=True, limit=1)

    def close(self) -> None:
        """Shut the job runner down (finishing running jobs) and release connections
        (the database's, the limiter's, the store's ranged-read pool)."""
        self.runner.shutdown()
        for part in (self.limiter, self.repos, self.store):
            if isinstance(part, Closable):
                with contextlib.suppress(Exception):
                    part.close()

    async def aclose(self) -> None:
        """:meth:`close`, plus the async connections: the store's (aioboto3) and the
        limiter's (``redis.asyncio``, opened by the async service's uploads)."""
        if isinstance(self.astore, AsyncClosable):
            await self.astore.aclose()
        if isinstance(self.limiter, AsyncClosable):
            with contextlib.suppress(Exception):  # as close(): shutdown goes on
                await self.limiter.aclose()
        self.close()


def _sql_repositories(settings: Settings) -> SqlRepositories:
    from mediakit.repositories.sql import SqlRepositories

    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return SqlRepositories.from_url(url, busy_timeout_s=settings.database_timeout)
    except ImportError as exc:
        raise ConfigurationError(
            "MEDIAKIT_DATABASE_URL", f"the database driver is not installed ({exc})"
        ) from exc


def _signer(settings: Settings, clock: Clock, prefix: str) -> CachedSigner:
    if settings.storage_backend == "s3" or not prefix:
        return build_signer(settings, clock)
    # The local URLs must point at the route under the app's prefix.
    base = build_signer(settings, clock)
    inner = base.inner
    assert isinstance(inner, LocalUrlSigner)
    moved = attrs.evolve(inner, base_path=prefix.rstrip("/") + LOCAL_PATH)
    return CachedSigner(moved, maxsize=settings.presign_cache_size, clock=clock)


def _grants(settings: Settings, clock: Clock, local: LocalUrlSigner | None) -> GrantSigner:
    """The signer of proxy-URL grants: the filesystem store's secret, else the setting,
    else a key derived from the S3 secret key (the same in every process that shares the
    credentials, and never revealing them: HMAC is one-way)."""
    if local is not None:
        secret = local.secret
    elif settings.signing_secret:
        secret = settings.signing_secret.encode()
    elif settings.s3_secret_access_key:
        secret = hmac.digest(
            settings.s3_secret_access_key.encode(), b"mediakit-proxy-grant-v1", "sha256"
        )
    else:
        if settings.delivery != "presigned":
            log.warning(
                "MEDIAKIT_SIGNING_SECRET is not set: proxy media URLs are signed with a "
                "random secret, so they differ between processes and stop working on "
                "restart. Set it (the same in every process) with MEDIA_DELIVERY=%s.",
                settings.delivery,
            )
        secret = secrets.token_bytes(32)
    return GrantSigner(
        secret, ttl=settings.presign_ttl, window=settings.effective_presign_window, clock=clock
    )


def build_service(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    repos: Repositories | None = None,
    store: ObjectStore | None = None,
    astore: AsyncObjectStore | None = None,
    runner: JobRunner | None = None,
    limiter: UploadLimiter | None = None,
    prefix: str = "",
) -> MediaKit:
    """Build every part from ``settings`` (``Settings.from_env()`` when omitted).

    ``prefix`` is the path the adapter's router is mounted under, so that proxy and
    local-file URLs point at the right routes. Any part can be passed in instead.

    First runs :func:`mediakit.preflight.preflight`: a missing ffmpeg (with audio
    pre-encoding on and processing in this process) or a missing libmagic is a
    :class:`~mediakit.errors.ConfigurationError` naming what to install or set; an
    embedded SQLite chosen implicitly next to S3 storage is logged as a warning naming
    ``MEDIAKIT_DATABASE_URL``.
    """
    settings = settings if settings is not None else Settings.from_env()
    prefix = prefix.rstrip("/")
    # fail now, not on the first upload: ffmpeg, libmagic, an implicit SQLite next to S3
    enforce(
        preflight(
            settings,
            local_processing=None if runner is None else not isinstance(runner, _QueueRunner),
            uses_database_url=repos is None,
        )
    )
    # What is built here is closed here should a later part fail, so a failed start holds
    # no database pool and no job threads; the parts passed in are their caller's.
    with contextlib.ExitStack() as on_failure:
        if store is None:
            store = build_object_store(settings)
        if astore is None:
            astore = (
                build_async_object_store(settings)
                if settings.storage_backend == "s3"
                else ThreadedAsyncStore(store)
            )
        if repos is None:
            repos = sql = _sql_repositories(settings)
            on_failure.callback(sql.close)
        signer = _signer(settings, clock, prefix)
        local = signer.inner if isinstance(signer.inner, LocalUrlSigner) else None
        # Local URLs are paths on the app: they follow the adapter's mount point per request.
        urls: UrlSigner = (
            signer if local is None else MountedSigner(signer, local.base_path, LOCAL_PATH)
        )
        limiter = limiter if limiter is not None else limiter_from_settings(settings)
        if runner is None:
            runner = runner_from_settings(ProcessingContext(store, repos, settings, clock))
            on_failure.callback(runner.shutdown, wait=False)
        common: dict[str, Any] = {
            "settings": settings,
            "repos": repos,
            "signer": urls,
            "limiter": limiter,
            "runner": runner,
            "clock": clock,
            "local": local,
            "proxy_base": prefix + PROXY_PATH,
            "info_cache": ObjectInfoCache(),
            "grants": _grants(
                settings, clock, signer.inner if isinstance(signer.inner, LocalUrlSigner) else None
            ),
        }
        kit = MediaKit(
            settings=settings,
            store=store,
            astore=astore,
            repos=repos,
            signer=signer,
            limiter=limiter,
            runner=runner,
            service=MediaService(store=store, **common),
            aservice=AsyncMediaService(store=astore, **common),
            clock=clock,
        )
        on_failure.pop_all()
    return kit
