"""mediakit: private media on S3-compatible storage, served fast.

The public surface is re-exported here; everything in a ``_private`` module may change.
"""

from __future__ import annotations

from mediakit.clock import Clock, ManualClock, SystemClock
from mediakit.errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    ImageRefused,
    MediaKitError,
    NotFound,
    ObjectNotFound,
    PreconditionFailed,
    ProcessingError,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
    TooManyRequests,
    Unauthorized,
    UnprocessableEntity,
    UnsupportedMediaType,
    UploadTooLarge,
)
from mediakit.models import (
    AudioTier,
    Image,
    MusicSet,
    Page,
    Principal,
    ProcessingStatus,
    Rendition,
    Track,
)
from mediakit.settings import Settings

__all__ = [
    # errors
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "DatabaseUnavailable",
    "Forbidden",
    "ImageRefused",
    "MediaKitError",
    "NotFound",
    "ObjectNotFound",
    "PreconditionFailed",
    "ProcessingError",
    "RangeNotSatisfiable",
    "StorageError",
    "StorageUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "UploadTooLarge",
    # models
    "AudioTier",
    "Image",
    "MusicSet",
    "Page",
    "Principal",
    "ProcessingStatus",
    "Rendition",
    "Track",
    # configuration and clocks
    "Clock",
    "ManualClock",
    "Settings",
    "SystemClock",
    "__version__",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("mediakit")
        except PackageNotFoundError:  # running from a source tree
            from mediakit._version import __version__

            return __version__
    raise AttributeError(f"module 'mediakit' has no attribute {name!r}")
