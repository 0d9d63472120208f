"""The service layer: the use cases behind every endpoint, in a sync and an async twin.

- :class:`MediaService` (sync) and :class:`AsyncMediaService` (async): one method per
  endpoint of the HTTP API, taking a :class:`~mediakit.models.Principal` and returning
  the contract's JSON as dicts (or a :class:`ServedObject` for the byte routes);
  errors are :class:`~mediakit.errors.MediaKitError`.
- :func:`build_service` / :class:`MediaKit`: the composition root from settings.
"""

from typing import TYPE_CHECKING

from mediakit._lazy import lazy_exports

if TYPE_CHECKING:  # loaded on first use (see mediakit._lazy), so that the pure policy
    # module (mediakit.service._policy) can be imported without the shells
    from mediakit.service._async import AsyncMediaService
    from mediakit.service._serving import ServedObject
    from mediakit.service._sync import MediaService
    from mediakit.service._wiring import LOCAL_PATH, PROXY_PATH, MediaKit, build_service

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AsyncMediaService": "mediakit.service._async",
        "ServedObject": "mediakit.service._serving",
        "MediaService": "mediakit.service._sync",
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
    # composition
    "LOCAL_PATH",
    "PROXY_PATH",
    "MediaKit",
    "build_service",
]
