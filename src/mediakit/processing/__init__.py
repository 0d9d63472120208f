"""Media processing: thumbnails (Pillow), audio tiers (ffmpeg), the tasks and their runners.

- :mod:`mediakit.processing.images`: :func:`make_thumbnails`, pure bytes/file in, WebP out;
- :mod:`mediakit.processing.audio`: :func:`find_ffmpeg`, :func:`probe`, :func:`encode_tiers`;
- :mod:`mediakit.processing.tasks`: :class:`ProcessingContext` and the idempotent tasks
  :func:`process_image`, :func:`process_track`, :func:`reprocess_all` (each under a
  processing lease; :class:`LeaseHeld`), :func:`remove_stale_temp_dirs`;
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
    requeue_interrupted,
    runner_from_settings,
)
from mediakit.processing.tasks import (
    LeaseHeld,
    ProcessingContext,
    ReprocessProgress,
    process_image,
    process_track,
    remove_stale_temp_dirs,
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
    "LeaseHeld",
    "ProcessingContext",
    "ReprocessProgress",
    "process_image",
    "process_track",
    "remove_stale_temp_dirs",
    "reprocess_all",
    # runners
    "TASKS",
    "DramatiqRunner",
    "InlineRunner",
    "JobRunner",
    "ThreadPoolRunner",
    "requeue_interrupted",
    "runner_from_settings",
]
