"""Uploads: streaming multipart reading with limits, content sniffing, per-admin
concurrency caps, the all-or-nothing ingest use case and garbage collection."""

from typing import TYPE_CHECKING

from mediakit._lazy import lazy_exports
from mediakit.uploads.limits import UploadBudget, UploadLimits, format_size

if TYPE_CHECKING:  # loaded on first use (see mediakit._lazy): the limits are pure core;
    # the rest pulls in libmagic, Pillow, the stores and the repositories
    from mediakit.uploads.gc import DEFAULT_MIN_AGE, OrphanReport, collect, find_orphans
    from mediakit.uploads.ingest import (
        FILES_FIELD,
        aingest_images,
        aingest_tracks,
        clean_filename,
        ingest_images,
        ingest_tracks,
    )
    from mediakit.uploads.limiter import (
        ConcurrencyLimiter,
        InProcessLimiter,
        RedisLimiter,
        limiter_from_settings,
    )
    from mediakit.uploads.multipart import (
        AsyncFilePart,
        AsyncMultipartReader,
        FilePart,
        FormField,
        MultipartReader,
        iter_file,
    )
    from mediakit.uploads.sniff import AUDIO_TYPES, IMAGE_TYPES, detect_type, image_types

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DEFAULT_MIN_AGE": "mediakit.uploads.gc",
        "OrphanReport": "mediakit.uploads.gc",
        "collect": "mediakit.uploads.gc",
        "find_orphans": "mediakit.uploads.gc",
        "FILES_FIELD": "mediakit.uploads.ingest",
        "aingest_images": "mediakit.uploads.ingest",
        "aingest_tracks": "mediakit.uploads.ingest",
        "clean_filename": "mediakit.uploads.ingest",
        "ingest_images": "mediakit.uploads.ingest",
        "ingest_tracks": "mediakit.uploads.ingest",
        "ConcurrencyLimiter": "mediakit.uploads.limiter",
        "InProcessLimiter": "mediakit.uploads.limiter",
        "RedisLimiter": "mediakit.uploads.limiter",
        "limiter_from_settings": "mediakit.uploads.limiter",
        "AsyncFilePart": "mediakit.uploads.multipart",
        "AsyncMultipartReader": "mediakit.uploads.multipart",
        "FilePart": "mediakit.uploads.multipart",
        "FormField": "mediakit.uploads.multipart",
        "MultipartReader": "mediakit.uploads.multipart",
        "iter_file": "mediakit.uploads.multipart",
        "AUDIO_TYPES": "mediakit.uploads.sniff",
        "IMAGE_TYPES": "mediakit.uploads.sniff",
        "detect_type": "mediakit.uploads.sniff",
        "image_types": "mediakit.uploads.sniff",
    },
    globals(),
)

__all__ = [
    # limits
    "UploadBudget",
    "UploadLimits",
    "format_size",
    # multipart
    "AsyncFilePart",
    "AsyncMultipartReader",
    "FilePart",
    "FormField",
    "MultipartReader",
    "iter_file",
    # sniffing
    "AUDIO_TYPES",
    "IMAGE_TYPES",
    "detect_type",
    "image_types",
    # concurrency
    "ConcurrencyLimiter",
    "InProcessLimiter",
    "RedisLimiter",
    "limiter_from_settings",
    # ingest
    "FILES_FIELD",
    "aingest_images",
    "aingest_tracks",
    "clean_filename",
    "ingest_images",
    "ingest_tracks",
    # garbage collection
    "DEFAULT_MIN_AGE",
    "OrphanReport",
    "collect",
    "find_orphans",
]
