"""Uploads: streaming multipart reading with limits, content sniffing, per-admin
concurrency caps, the all-or-nothing ingest use case and garbage collection."""

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
from mediakit.uploads.limits import UploadBudget, UploadLimits, format_size
from mediakit.uploads.multipart import (
    AsyncFilePart,
    AsyncMultipartReader,
    FilePart,
    FormField,
    MultipartReader,
    iter_file,
)
from mediakit.uploads.sniff import AUDIO_TYPES, IMAGE_TYPES, detect_type, image_types

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
