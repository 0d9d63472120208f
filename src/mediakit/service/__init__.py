"""The service layer: the use cases behind every endpoint, in a sync and an async twin.

- :class:`MediaService` (sync) and :class:`AsyncMediaService` (async): one method per
  endpoint of the HTTP API, taking a :class:`~mediakit.models.Principal` and returning
  the contract's JSON as typed dicts (or a :class:`ServedObject` for the byte routes);
  errors are :class:`~mediakit.errors.MediaKitError`.
- The typed JSON values: :class:`ImageView`, :class:`TrackView`, :class:`MusicSetView`,
  :class:`MusicSetDetail`, :class:`PageView`, :class:`UploadView`, :class:`StreamUrl`,
  :class:`DownloadUrl` (``TypedDict`` classes: plain dicts at run time, checked by mypy).
- :func:`build_service` / :class:`MediaKit`: the composition root from settings.
"""

from mediakit.service._async import AsyncMediaService
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
]
