"""One frozen, validated settings object.

Build it in code (``Settings(assets_bucket="media", ...)``) or from the environment
with :meth:`Settings.from_env`. A bad value fails at start-up with a
:class:`~mediakit.errors.ConfigurationError` that names the environment variable.

Every field, its variable and its default are listed in ``docs/configuration.md``;
a test keeps that page and this module in step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import attrs

from mediakit.errors import ConfigurationError

__all__ = ["ENV_VARS", "Settings"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

StorageBackend = Literal["filesystem", "s3", "memory"]
Delivery = Literal["presigned", "proxy"]
ChecksumMode = Literal["when_required", "when_supported"]
JobRunnerKind = Literal["inline", "thread", "dramatiq"]

_STORAGE_BACKENDS = ("filesystem", "s3", "memory")
_DELIVERIES = ("presigned", "proxy")
_CHECKSUM_MODES = ("when_required", "when_supported")
_JOB_RUNNERS = ("inline", "thread", "dramatiq")
_AUDIO_QUALITIES = ("low", "medium", "high")

T = TypeVar("T")


def _env(name: str, doc: str) -> dict[str, str]:
    return {"env": name, "doc": doc}


def _positive(inst: object, attribute: attrs.Attribute[Any], value: int | float) -> None:
    if value <= 0:
        raise ConfigurationError(attribute.metadata["env"], f"must be positive, got {value!r}")


def _one_of(*choices: str) -> Callable[[object, attrs.Attribute[Any], str], None]:
    def check(inst: object, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in choices:
            raise ConfigurationError(
                attribute.metadata["env"],
                f"must be one of {', '.join(choices)}; got {value!r}",
            )

    return check


def _to_sizes(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigurationError("MEDIA_THUMBNAIL_SIZES", f"must be a list of sizes; got {value!r}")
    return tuple(sorted({int(x) for x in value}))


def _sizes(inst: object, attribute: attrs.Attribute[Any], value: tuple[int, ...]) -> None:
    if not value or any(s <= 0 or s > 16384 for s in value):
        raise ConfigurationError(
            attribute.metadata["env"],
            f"must be a non-empty list of sizes between 1 and 16384 pixels; got {value!r}",
        )


@attrs.frozen(kw_only=True)
class Settings:
    """Every knob mediakit has. Defaults run the embedded reference setup."""

    # --- object storage -------------------------------------------------------
    assets_bucket: str = attrs.field(
        default="mediakit",
        metadata=_env("MEDIA_ASSETS_BUCKET", "Bucket holding images and audio."),
    )
    storage_backend: str = attrs.field(
        default="filesystem",
        validator=_one_of(*_STORAGE_BACKENDS),
        metadata=_env(
            "MEDIAKIT_STORAGE",
            "Object store: `s3`, `filesystem` (embedded default) or `memory` (tests). "
            "Defaults to `s3` when `MEDIA_S3_ENDPOINT` is set.",
        ),
    )
    s3_endpoint: str | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIA_S3_ENDPOINT",
            "S3 endpoint URL, e.g. `https://s3.hidrive.strato.com`; unset means AWS.",
        ),
    )
    s3_access_key_id: str | None = attrs.field(
        default=None, repr=False, metadata=_env("MEDIA_S3_ACCESS_KEY_ID", "Access key id.")
    )
    s3_secret_access_key: str | None = attrs.field(
        default=None, repr=False, metadata=_env("MEDIA_S3_SECRET_ACCESS_KEY", "Secret access key.")
    )
    s3_session_token: str | None = attrs.field(
        default=None,
        repr=False,
        metadata=_env("MEDIA_S3_SESSION_TOKEN", "Session token for temporary credentials."),
    )
    s3_region: str = attrs.field(
        default="us-east-1", metadata=_env("MEDIA_S3_REGION", "Region used for SigV4 signing.")
    )
    s3_path_style: bool = attrs.field(
        default=True,
        metadata=_env(
            "MEDIA_S3_PATH_STYLE",
            "Path-style addressing (`endpoint/bucket/key`); required by Strato and most S3-compatible services.",
        ),
    )
    s3_checksum_mode: str = attrs.field(
        default="when_required",
        validator=_one_of(*_CHECKSUM_MODES),
        metadata=_env(
            "MEDIA_S3_CHECKSUM_MODE",
            "botocore `request_checksum_calculation`/`response_checksum_validation`. "
            "`when_required` works with non-AWS services that reject CRC checksums.",
        ),
    )
    s3_max_pool_connections: int = attrs.field(
        default=32,
        validator=_positive,
        metadata=_env("MEDIA_S3_MAX_POOL_CONNECTIONS", "HTTP connection pool size per S3 client."),
    )
    multipart_part_size: int = attrs.field(
        default=10 * MiB,
        metadata=_env(
            "MEDIA_UPLOAD_PART_SIZE", "Multipart upload part size in bytes (minimum 5 MiB)."
        ),
    )
    storage_root: str = attrs.field(
        default="mediakit-data/objects",
        metadata=_env("MEDIAKIT_STORAGE_ROOT", "Directory of the filesystem store."),
    )
    signing_secret: str | None = attrs.field(
        default=None,
        repr=False,
        metadata=_env(
            "MEDIAKIT_SIGNING_SECRET",
            "HMAC secret for filesystem-store URLs. Set it for stable URLs across restarts "
            "and processes; a random one is generated when unset.",
        ),
    )
    # --- delivery ---------------------------------------------------------------
    presign_ttl: int = attrs.field(
        default=900,
        validator=_positive,
        metadata=_env(
            "MEDIA_PRESIGN_TTL_SECONDS", "Lifetime of presigned URLs in seconds (15 minutes)."
        ),
    )
    presign_window: int | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIA_PRESIGN_WINDOW_SECONDS",
            "Signing time is rounded down to this window so URLs are stable; at most half the TTL. "
            "Default: a third of the TTL. 0 disables rounding.",
        ),
    )
    presign_cache_size: int = attrs.field(
        default=100_000,
        validator=_positive,
        metadata=_env(
            "MEDIA_PRESIGN_CACHE_SIZE", "Maximum entries of the per-process presign cache."
        ),
    )
    delivery: str = attrs.field(
        default="presigned",
        validator=_one_of(*_DELIVERIES),
        metadata=_env(
            "MEDIA_DELIVERY",
            "`presigned`: URLs point at the object store. `proxy`: URLs point at the app's Range proxy.",
        ),
    )
    proxy_chunk_size: int = attrs.field(
        default=256 * KiB,
        validator=_positive,
        metadata=_env("MEDIA_PROXY_CHUNK_SIZE", "Bytes per chunk streamed by the Range proxy."),
    )
    # --- uploads ------------------------------------------------------------------
    max_file_size: int = attrs.field(
        default=4 * GiB,
        validator=_positive,
        metadata=_env("MEDIA_MAX_FILE_SIZE", "Largest single file in bytes (4 GiB)."),
    )
    max_upload_size_total: int = attrs.field(
        default=8 * GiB,
        validator=_positive,
        metadata=_env(
            "MEDIA_MAX_UPLOAD_SIZE_TOTAL", "Largest request in bytes, all files together."
        ),
    )
    max_files_per_request: int = attrs.field(
        default=50,
        validator=_positive,
        metadata=_env("MEDIA_MAX_FILES_PER_REQUEST", "Most files in one upload request."),
    )
    max_fields_per_request: int = attrs.field(
        default=20,
        validator=_positive,
        metadata=_env(
            "MEDIA_MAX_FIELDS_PER_REQUEST", "Most non-file form fields in one upload request."
        ),
    )
    max_concurrent_uploads: int = attrs.field(
        default=2,
        validator=_positive,
        metadata=_env(
            "MEDIA_MAX_CONCURRENT_UPLOADS",
            "Upload requests one admin may have in flight; more get 429 with Retry-After.",
        ),
    )
    # --- processing ---------------------------------------------------------------
    thumbnail_sizes: tuple[int, ...] = attrs.field(
        default=(320, 640, 1280),
        converter=_to_sizes,
        validator=_sizes,
        metadata=_env(
            "MEDIA_THUMBNAIL_SIZES", "Thumbnail sizes (longest side, pixels), comma-separated."
        ),
    )
    image_max_pixels: int = attrs.field(
        default=100_000_000,
        validator=_positive,
        metadata=_env(
            "MEDIA_IMAGE_MAX_PIXELS",
            "Largest image (width x height) decoded; bigger is refused as a decompression bomb.",
        ),
    )
    audio_quality_default: str = attrs.field(
        default="medium",
        validator=_one_of(*_AUDIO_QUALITIES),
        metadata=_env(
            "MEDIA_AUDIO_QUALITY_DEFAULT",
            "Streaming tier when a request names none: `low`, `medium` or `high`.",
        ),
    )
    audio_pre_encode: bool = attrs.field(
        default=True,
        metadata=_env(
            "MEDIA_AUDIO_PRE_ENCODE",
            "Encode the streaming tiers on upload (otherwise only the original is served).",
        ),
    )
    ffmpeg_path: str | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIA_FFMPEG_PATH",
            "ffmpeg binary; default: `imageio-ffmpeg`'s, else `ffmpeg` on PATH.",
        ),
    )
    ffmpeg_timeout: int = attrs.field(
        default=900,
        validator=_positive,
        metadata=_env(
            "MEDIA_FFMPEG_TIMEOUT_SECONDS",
            "Wall-clock limit of one encode; the process group is killed after it.",
        ),
    )
    job_runner: str = attrs.field(
        default="thread",
        validator=_one_of(*_JOB_RUNNERS),
        metadata=_env(
            "MEDIAKIT_JOB_RUNNER", "Where processing runs: `inline`, `thread` (pool) or `dramatiq`."
        ),
    )
    job_workers: int = attrs.field(
        default=2,
        validator=_positive,
        metadata=_env("MEDIAKIT_JOB_WORKERS", "Threads of the `thread` job runner."),
    )
    # --- infrastructure -------------------------------------------------------------
    database_url: str = attrs.field(
        default="sqlite:///mediakit-data/mediakit.db",
        metadata=_env(
            "MEDIAKIT_DATABASE_URL",
            "SQLAlchemy URL: SQLite (embedded default) or `postgresql+psycopg://...`.",
        ),
    )
    redis_url: str | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIAKIT_REDIS_URL",
            "Redis for per-admin upload limits across processes (and the dramatiq broker).",
        ),
    )

    # --- bounded waits on storage (issue 14) -------------------------------------
    s3_connect_timeout: float = attrs.field(
        default=2.0,
        validator=_positive,
        metadata=_env(
            "MEDIA_S3_CONNECT_TIMEOUT",
            "Seconds to wait for a TCP connection to the S3 endpoint (per attempt).",
        ),
    )
    s3_read_timeout: float = attrs.field(
        default=4.0,
        validator=_positive,
        metadata=_env(
            "MEDIA_S3_READ_TIMEOUT",
            "Seconds to wait for the S3 endpoint's next bytes (per attempt). With the "
            "defaults a hung endpoint is a 503 within about 10 s; raise it for a slow provider.",
        ),
    )
    s3_max_attempts: int = attrs.field(
        default=2,
        validator=_positive,
        metadata=_env(
            "MEDIA_S3_MAX_ATTEMPTS",
            "Attempts per S3 call, the first included (botocore `standard` retry mode: "
            "throttling, 5xx and connection errors are retried with backoff).",
        ),
    )
    # --- durable processing (issue 14) -------------------------------------------
    job_lease_seconds: int = attrs.field(
        default=60,
        validator=_positive,
        metadata=_env(
            "MEDIAKIT_JOB_LEASE_SECONDS",
            "Processing lease: a running job renews it every third of this; a job whose "
            "process died is taken up again once it expires (the `thread` and `inline` "
            "runners look for such jobs at start and every half lease).",
        ),
    )

    @multipart_part_size.validator
    def _check_part(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if value < 5 * MiB or value > 5 * GiB:
            raise ConfigurationError(
                "MEDIA_UPLOAD_PART_SIZE", f"must be between 5 MiB and 5 GiB; got {value}"
            )

    @presign_window.validator
    def _check_window(self, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is not None and (value < 0 or value * 2 > self.presign_ttl):
            raise ConfigurationError(
                "MEDIA_PRESIGN_WINDOW_SECONDS",
                f"must be between 0 and half of MEDIA_PRESIGN_TTL_SECONDS ({self.presign_ttl // 2}); got {value}",
            )

    @assets_bucket.validator
    def _check_bucket(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if (
            not (3 <= len(value) <= 63)
            or not value.replace("-", "").replace(".", "").isalnum()
            or not value.islower()
        ):
            raise ConfigurationError(
                "MEDIA_ASSETS_BUCKET",
                f"{value!r} is not a valid bucket name (3-63 lowercase letters, digits, '-', '.')",
            )

    @s3_endpoint.validator
    def _check_endpoint(self, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ConfigurationError(
                "MEDIA_S3_ENDPOINT", f"must be an http:// or https:// URL; got {value!r}"
            )

    @property
    def effective_presign_window(self) -> int:
        """The signing-time window in seconds (a third of the TTL unless set)."""
        return self.presign_ttl // 3 if self.presign_window is None else self.presign_window

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (``os.environ`` by default).

        Unset or empty variables keep their defaults; ``overrides`` win over both.

        Raises:
            ConfigurationError: a variable has a bad value; the message names it.
        """
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for field in attrs.fields(cls):
            name = field.metadata["env"]
            raw = env.get(name, "").strip()
            if raw:
                kwargs[field.name] = _parse(name, raw, field)
        if "storage_backend" not in kwargs and kwargs.get("s3_endpoint"):
            kwargs["storage_backend"] = "s3"
        kwargs.update(overrides)
        return cls(**kwargs)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_UNITS = {
    "": 1,
    "b": 1,
    "k": KiB,
    "kb": KiB,
    "kib": KiB,
    "m": MiB,
    "mb": MiB,
    "mib": MiB,
    "g": GiB,
    "gb": GiB,
    "gib": GiB,
}


def _parse_int(name: str, raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise ConfigurationError(name, f"must be a whole number; got {raw!r}")
    return int(raw)


def _parse_float(name: str, raw: str) -> float:
    whole, _, frac = raw.partition(".")
    if not (whole or frac) or not all(
        p.isascii() and (p.isdigit() or not p) for p in (whole, frac)
    ):
        raise ConfigurationError(name, f"must be a number of seconds such as 4 or 2.5; got {raw!r}")
    return float(raw)


def _parse_size(name: str, raw: str) -> int:
    s = raw.lower().replace(" ", "")
    digits = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(digits) :]
    if unit not in _UNITS or not digits:
        raise ConfigurationError(
            name, f"must be a size such as 4294967296, 512MiB or 4GiB; got {raw!r}"
        )
    return _parse_int(name, digits) * _UNITS[unit]


_SIZE_FIELDS = {"multipart_part_size", "max_file_size", "max_upload_size_total", "proxy_chunk_size"}


def _parse(name: str, raw: str, field: attrs.Attribute[Any]) -> object:
    if field.name in _SIZE_FIELDS:
        return _parse_size(name, raw)
    if field.name == "thumbnail_sizes":
        return tuple(_parse_int(name, p.strip()) for p in raw.split(",") if p.strip())
    typ = field.type
    if typ in ("bool", bool):
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigurationError(name, f"must be true or false; got {raw!r}")
    if typ in ("int", "int | None", int):
        return _parse_int(name, raw)
    if typ in ("float", float):
        return _parse_float(name, raw)
    return raw


ENV_VARS: dict[str, str] = {f.metadata["env"]: f.name for f in attrs.fields(Settings)}
"""Environment variable name -> settings field name."""
