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
from typing import Any

import attrs

from mediakit.contract import STREAM_TIERS
from mediakit.errors import ConfigurationError

__all__ = ["ENV_VARS", "Settings"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_STORAGE_BACKENDS = ("filesystem", "s3", "memory")
_DELIVERIES = ("presigned", "proxy", "offload")
_CHECKSUM_MODES = ("when_required", "when_supported")
_JOB_RUNNERS = ("inline", "thread", "dramatiq")
_AUDIO_QUALITIES = STREAM_TIERS


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


def _between(low: int, high: int) -> Callable[[object, attrs.Attribute[Any], int], None]:
    def check(inst: object, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise ConfigurationError(
                attribute.metadata["env"], f"must be between {low} and {high}; got {value!r}"
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
        default=8 * MiB,
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
            "HMAC secret for filesystem-store URLs and proxy-URL grants. Set it for stable "
            "URLs across restarts and processes; when unset, grants use a key derived from "
            "the S3 secret key, and otherwise a random one is generated.",
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
            "`presigned`: URLs point at the object store. `proxy`: URLs point at the app's Range "
            "proxy (with a short signed grant, so media elements need no header). `offload`: "
            "as `proxy`, but the app only authorizes and nginx streams the bytes from S3 "
            "(`X-Accel-Redirect`, see the nginx how-to).",
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
    # --- database availability (issue 14) ---------------------------------------------
    database_timeout: float = attrs.field(
        default=5,
        validator=_positive,
        metadata=_env(
            "MEDIAKIT_DATABASE_TIMEOUT_SECONDS",
            "How long a request waits for the database, in seconds (fractions allowed, "
            "e.g. `0.5`): SQLite's busy timeout (another writer holds the lock), "
            "PostgreSQL's connect timeout (whole seconds, at least 1; psycopg waits at "
            "least 2) and the wait for a pooled connection. Past it the request is "
            "answered `503 database_unavailable` with Retry-After, nothing written.",
        ),
    )

    # --- CDN ----------------------------------------------------------------------
    cdn_enabled: bool = attrs.field(
        default=False,
        metadata=_env(
            "MEDIA_CDN_ENABLED",
            "Hand out URLs on `MEDIA_CDN_URL` instead of the S3 endpoint (presigned delivery, "
            "`MEDIAKIT_STORAGE=s3`). Without a CloudFront key the URLs are unsigned: the CDN "
            "serves the media publicly.",
        ),
    )
    cdn_url: str | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIA_CDN_URL",
            "The CDN's URL for the bucket's root, e.g. `https://d111111abcdef8.cloudfront.net` "
            "(a path prefix is allowed).",
        ),
    )
    cdn_cloudfront_key_id: str | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIA_CDN_CLOUDFRONT_KEY_ID",
            "Id of the CloudFront public key (in the distribution's trusted key group) whose "
            "private key signs the URLs (canned policy).",
        ),
    )
    cdn_cloudfront_private_key: str | None = attrs.field(
        default=None,
        repr=False,
        metadata=_env(
            "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY",
            "The RSA private key as PEM text (on one line, newlines may be escaped as backslash-n). Needs `mediakit[cdn]`.",
        ),
    )
    cdn_cloudfront_private_key_file: str | None = attrs.field(
        default=None,
        metadata=_env(
            "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE",
            "Path of a PEM file holding the RSA private key (instead of the PEM text).",
        ),
    )

    # --- thumbnails (issue 15) ------------------------------------------------------
    thumbnail_webp_quality: int = attrs.field(
        default=80,
        validator=_between(1, 100),
        metadata=_env(
            "MEDIA_THUMBNAIL_WEBP_QUALITY",
            "WebP quality of thumbnails, 1-100 (Pillow's default, 80).",
        ),
    )
    thumbnail_webp_method: int = attrs.field(
        default=4,
        validator=_between(0, 6),
        metadata=_env(
            "MEDIA_THUMBNAIL_WEBP_METHOD",
            "WebP encoder effort of thumbnails, 0 (fastest) to 6 (smallest files); the "
            "default 4 is Pillow's. 0-2 cut the CPU time of a 24 MP photo's thumbnails by "
            "30-40 % but write files 1.1-1.65x larger at equal quality on smooth photos; "
            "3 costs what 4 costs.",
        ),
    )

    @cdn_cloudfront_private_key_file.validator
    def _check_cdn(self, attribute: attrs.Attribute[Any], value: str | None) -> None:
        # attrs runs validators after every field is set: the CDN fields checked together
        if self.cdn_url is not None:
            _cdn_base_url(self.cdn_url)
        if self.cdn_enabled and self.cdn_url is None:
            raise ConfigurationError("MEDIA_CDN_URL", "must be set when MEDIA_CDN_ENABLED is true")
        if self.cdn_enabled and self.storage_backend != "s3":
            raise ConfigurationError(
                "MEDIA_CDN_ENABLED",
                f"needs MEDIAKIT_STORAGE=s3 (a CDN serves the bucket); got {self.storage_backend!r}",
            )
        pem, path, key_id = self.cdn_cloudfront_private_key, value, self.cdn_cloudfront_key_id
        if pem is not None and path is not None:
            raise ConfigurationError(
                "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE",
                "set either MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY or ..._PRIVATE_KEY_FILE, not both",
            )
        if (pem is not None or path is not None) and key_id is None:
            raise ConfigurationError(
                "MEDIA_CDN_CLOUDFRONT_KEY_ID",
                "must be set with a CloudFront private key: the id CloudFront shows for "
                "the public key",
            )
        if key_id is not None and pem is None and path is None:
            raise ConfigurationError(
                "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY",
                "must be set (or ..._PRIVATE_KEY_FILE) when MEDIA_CDN_CLOUDFRONT_KEY_ID is set",
            )
        if key_id is not None:
            _cloudfront_key_id(key_id)
            # readable, RSA, 2048 bits: fail at start, not on the first URL
            if path is not None:
                _cloudfront_private_key(
                    _read_key_file(path), "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE"
                )
            else:
                assert pem is not None
                _cloudfront_private_key(pem, "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY")

    # --- delivery: proxy grants and nginx offload -------------------------------------
    offload_location: str = attrs.field(
        default="/_mediakit_offload/",
        metadata=_env(
            "MEDIA_OFFLOAD_LOCATION",
            "`MEDIA_DELIVERY=offload`: the nginx `internal` location the app's "
            "`X-Accel-Redirect` points at (starts and ends with `/`).",
        ),
    )

    @offload_location.validator
    def _check_offload_location(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if (
            not value.startswith("/")
            or not value.endswith("/")
            or len(value) < 3
            or not all(c.isalnum() or c in "/_-." for c in value)
            or "//" in value
            or "/./" in value
            or "/../" in value
        ):
            raise ConfigurationError(
                "MEDIA_OFFLOAD_LOCATION",
                f"must be a path such as /_mediakit_offload/ (starting and ending with '/', "
                f"letters, digits, '_', '-', '.'); got {value!r}",
            )

    @delivery.validator
    def _check_offload_store(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value == "offload" and self.storage_backend != "s3":
            raise ConfigurationError(
                "MEDIA_DELIVERY",
                "offload needs MEDIAKIT_STORAGE=s3 (nginx fetches presigned S3 URLs); "
                f"the store is {self.storage_backend!r}. Use MEDIA_DELIVERY=proxy instead.",
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
    # --- Range proxy reads (issue 15) ---------------------------------------------
    s3_fast_reads: bool = attrs.field(
        default=True,
        metadata=_env(
            "MEDIA_S3_FAST_READS",
            "Ranged S3 reads (the Range proxy's GETs) as presigned GETs on mediakit's own "
            "HTTP/1.1 keep-alive pool instead of botocore: a fraction of the CPU per seek, "
            "same timeouts, attempts and errors. Set false to send them through botocore.",
        ),
    )
    s3_fast_uploads: bool = attrs.field(
        default=True,
        metadata=_env(
            "MEDIA_S3_FAST_UPLOADS",
            "Multipart parts (signed by botocore as always) written on mediakit's own "
            "HTTP/1.1 connections, each straight from the request's chunks, instead of "
            "through aiohttp (on the event loop) or urllib3: less CPU per GiB uploaded, no "
            "copy of a part in memory, and the event loop free while parts go out. Same "
            "timeouts, attempts and errors. Set false to send parts through botocore's "
            "HTTP client.",
        ),
    )
    # --- upload parts in flight (issue 15) --------------------------------------------
    upload_parts_in_flight: int = attrs.field(
        default=4,
        metadata=_env(
            "MEDIA_UPLOAD_PARTS_IN_FLIGHT",
            "Multipart parts one S3 upload sends at once while it reads the next (1 to 16). "
            "Memory per upload is at most this plus one part of MEDIA_UPLOAD_PART_SIZE. The "
            "default, 4, keeps the client and S3 transferring while S3 stores a part (a few "
            "hundredths of boto3's speed over 2 and about +0.15x over 1 in docs/benchmarks.md, "
            "at about the same CPU per GiB).",
        ),
    )

    @upload_parts_in_flight.validator
    def _check_parts_in_flight(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if not 1 <= value <= 16:
            raise ConfigurationError(
                "MEDIA_UPLOAD_PARTS_IN_FLIGHT", f"must be between 1 and 16; got {value}"
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


# --- CDN helpers: the checks of the CDN settings, shared with mediakit.presign ----------

_CDN_URL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_CLOUDFRONT_KEYS: dict[bytes, Any] = {}


def _cdn_base_url(url: str) -> str:
    """``MEDIA_CDN_URL`` checked and normalised: lower-case host, no default port, one
    trailing ``/`` (browsers send the host so; a signed resource URL must match).

    Only RFC 3986 characters are allowed (no quote, backslash, space or non-ASCII), so the
    URL goes into a CloudFront JSON policy as ``json.dumps`` would write it.
    """
    from urllib.parse import urlsplit

    name = "MEDIA_CDN_URL"
    if not url or not set(url) <= _CDN_URL_CHARS:
        raise ConfigurationError(
            name,
            "must be a URL of ASCII characters (punycode for international domain names, "
            f"percent-encoding elsewhere); got {url!r}",
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            name, f"must be an https:// (or http://) URL with a host; got {url!r}"
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigurationError(name, f"must not have a query string or fragment; got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(name, f"must not hold a user name or password; got {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(name, f"has a bad port ({exc}); got {url!r}") from exc
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}/"


def _cloudfront_key_id(key_id: str) -> str:
    """``MEDIA_CDN_CLOUDFRONT_KEY_ID`` checked: the id of a CloudFront public key."""
    if not (key_id.isascii() and key_id.isalnum() and len(key_id) <= 128):
        raise ConfigurationError(
            "MEDIA_CDN_CLOUDFRONT_KEY_ID",
            "must be the id of a CloudFront public key (letters and digits, such as "
            f"K2JCJMDEHXQW5F); got {key_id!r}",
        )
    return key_id


def _read_key_file(path: str) -> bytes:
    """The bytes of ``MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE``."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConfigurationError(
            "MEDIA_CDN_CLOUDFRONT_PRIVATE_KEY_FILE",
            f"cannot read the private key file {path!r}: {exc.strerror or exc}",
        ) from exc


def _cloudfront_private_key(pem: str | bytes, name: str) -> Any:
    """The RSA private key (``cryptography``) of a PEM text, parsed once per process.

    Literal ``\\n`` sequences (a PEM squeezed into one line) are read as line breaks.
    Errors name ``name``, the variable the PEM came from.
    """
    data = pem.encode() if isinstance(pem, str) else pem
    if b"\n" not in data.strip() and b"\\n" in data:
        data = data.replace(b"\\n", b"\n")
    data = data.strip() + b"\n"
    key = _CLOUDFRONT_KEYS.get(data)
    if key is not None:
        return key
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError as exc:
        raise ConfigurationError(
            name,
            "signing CloudFront URLs needs the cryptography package: pip install 'mediakit[cdn]'",
        ) from exc
    try:
        key = load_pem_private_key(data, password=None)
    except Exception as exc:  # ValueError, TypeError (encrypted), UnsupportedAlgorithm
        raise ConfigurationError(
            name,
            "is not a readable, unencrypted PEM private key ('-----BEGIN RSA PRIVATE KEY-----' "
            f"or '-----BEGIN PRIVATE KEY-----'): {exc}",
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.lstrip("_").removesuffix("PrivateKey") or "non-RSA"
        raise ConfigurationError(
            name, f"must be an RSA private key of 2048 bits; this is an {kind} key"
        )
    if key.key_size < 2048:
        raise ConfigurationError(
            name,
            f"must be an RSA private key of 2048 bits; this one has {key.key_size} bits",
        )
    if len(_CLOUDFRONT_KEYS) < 8:
        _CLOUDFRONT_KEYS[data] = key
    return key
