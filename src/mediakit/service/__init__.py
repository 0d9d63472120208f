"""The service layer: the use cases behind every endpoint, in a sync and an async twin.

- :class:`MediaService` (sync) and :class:`AsyncMediaService` (async): one method per
  endpoint of the HTTP API, taking a :class:`~mediakit.models.Principal` and returning
  the contract's JSON as typed dicts (or a :class:`ServedObject` for the byte routes);
  errors are :class:`~mediakit.errors.MediaKitError`.
- The typed JSON values: :class:`ImageView`, :class:`TrackView`, :class:`MusicSetView`,
  :class:`MusicSetDetail`, :class:`PageView`, :class:`UploadView`, :class:`StreamUrl`,
  :class:`DownloadUrl` (``TypedDict`` classes: plain dicts at run time, checked by mypy).
- :func:`build_service` / :class:`MediaKit`: the composition root from settings.
- :func:`mounted_at`: adapters say where the request reached their routes, so that the
  proxy and local-file URLs handed out follow the app's prefixes and ``root_path``.
- :func:`has_grant`: whether a proxy request's query carries a URL grant (``exp``,
  ``sig``), for an adapter deciding whether to resolve the caller first.
"""

from typing import TYPE_CHECKING

from mediakit._lazy import lazy_exports

if TYPE_CHECKING:  # loaded on first use (see mediakit._lazy), so that the pure policy
    # module (mediakit.service._policy) can be imported without the shells
    from mediakit.service._async import AsyncMediaService
    from mediakit.service._delivery import has_grant
    from mediakit.service._mount import current_mount, mounted_at
    from mediakit.service._serving import ServedObject
    from mediakit.service._sync import MediaService
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
    from mediakit.service._wiring import LOCAL_PATH, PROXY_PATH, MediaKit, build_service

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AsyncMediaService": "mediakit.service._async",
        "has_grant": "mediakit.service._delivery",
        "current_mount": "mediakit.service._mount",
        "mounted_at": "mediakit.service._mount",
        "ServedObject": "mediakit.service._serving",
        "MediaService": "mediakit.service._sync",
        "DownloadUrl": "mediakit.service._views",
        "ImageView": "mediakit.service._views",
        "MusicSetDetail": "mediakit.service._views",
        "MusicSetView": "mediakit.service._views",
        "PageView": "mediakit.service._views",
        "StreamUrl": "mediakit.service._views",
        "TrackView": "mediakit.service._views",
        "UploadView": "mediakit.service._views",
        "LOCAL_PATH": "mediakit.service._wiring",
        "PROXY_PATH": "mediakit.service._wiring",
        "MediaKit": "mediakit.service._wiring",
        "build_service": "mediakit.service._wiring",
    },
    globals(),
)

__all__ = [
    # services
    "AsyncMediaService",
    "MediaService",
    "ServedObject",
    # typed JSON values
    "DownloadUrl",
    "ImageView",
    "MusicSetDetail",
    "MusicSetView",
    "PageView",
    "StreamUrl",
    "TrackView",
    "UploadView",
    # composition
    "LOCAL_PATH",
    "PROXY_PATH",
    "MediaKit",
    "build_service",
    # where the adapter's routes are mounted (the base of URLs handed out)
    "current_mount",
    "mounted_at",
    # does a request's query carry a URL grant (then the grant decides, not the caller)
    "has_grant",
]
