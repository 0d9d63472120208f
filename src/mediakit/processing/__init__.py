"""Media processing: thumbnails (Pillow), audio tiers (ffmpeg), the tasks and their runners.

- :mod:`mediakit.processing.images`: :func:`make_thumbnails`, pure bytes/file in, WebP out;
- :mod:`mediakit.processing.audio`: :func:`find_ffmpeg`, :func:`probe`, :func:`encode_tiers`;
- :mod:`mediakit.processing.tasks`: :class:`ProcessingContext` and the idempotent tasks
  :func:`process_image`, :func:`process_track`, :func:`reprocess_all`;
- :mod:`mediakit.processing.jobs`: :class:`JobRunner` and its implementations
  (:class:`InlineRunner`, :class:`ThreadPoolRunner`, :class:`DramatiqRunner`).
"""

from mediakit.processing.audio import AudioInfo, EncodedTier, encode_tiers, find_ffmpeg, probe
from mediakit.processing.images import Thumbnail, ThumbnailSet, make_thumbnails
from mediakit.processing.jobs import (
    TASKS,
    DramatiqRunner,
    InlineRunner,
    JobRunner,
    ThreadPoolRunner,
    runner_from_settings,
)
from mediakit.processing.tasks import (
    ProcessingContext,
    ReprocessProgress,
    process_image,
    process_track,
    reprocess_all,
)

__all__ = [
    # images
    "Thumbnail",
    "ThumbnailSet",
    "make_thumbnails",
    # audio
    "AudioInfo",
    "EncodedTier",
    "encode_tiers",
    "find_ffmpeg",
    "probe",
    # tasks
    "ProcessingContext",
    "ReprocessProgress",
    "process_image",
    "process_track",
    "reprocess_all",
    # runners
    "TASKS",
    "DramatiqRunner",
    "InlineRunner",
    "JobRunner",
    "ThreadPoolRunner",
    "runner_from_settings",
]
