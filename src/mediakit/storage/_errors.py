"""The one place where botocore/aiobotocore errors become mediakit errors.

Every S3 call in :mod:`mediakit.storage.s3` and :mod:`mediakit.storage.s3_async` runs
inside :func:`translate_errors`; nothing else in mediakit inspects botocore errors.

===========================================  =====================================
botocore error                               mediakit error
===========================================  =====================================
``NoSuchKey``, ``NotFound``, ``404``         :class:`~mediakit.errors.ObjectNotFound`
``NoSuchUpload`` (or ``NoSuchKey`` for one)   :class:`~mediakit.errors.ObjectNotFound`
``MissingContentLength`` / 411               :class:`~mediakit.errors.StorageError` (checksums)
``InvalidRange`` / 416                       :class:`~mediakit.errors.RangeNotSatisfiable`
``SlowDown``, throttling, any 5xx            :class:`~mediakit.errors.StorageUnavailable`
connection refused/closed, timeouts          :class:`~mediakit.errors.StorageUnavailable`
``NoSuchBucket``, access, credentials, rest  :class:`~mediakit.errors.StorageError`
===========================================  =====================================

Calls about a multipart upload pass its ``upload_id``: Ceph RGW answers ``NoSuchKey`` (not
``NoSuchUpload``) for the parts of an aborted upload, and the error should say that the
upload, not the object, is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from urllib3.exceptions import HTTPError as _Urllib3Error

from mediakit.errors import (
    MediaKitError,
    ObjectNotFound,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
)
from mediakit.storage._http1 import TransportError as _Http1Error

__all__ = ["CHUNKED_REFUSED", "classify_client_error", "translate_errors"]

_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchUpload", "NoSuchVersion"})
_THROTTLED = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
    }
)
_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken"}
)

# mediakit.storage._http1 carries the ranged reads (mediakit.storage._ranged_http),
# urllib3 botocore's calls, aiohttp aiobotocore's
try:  # aiohttp only exists when the async extra is installed
    from aiohttp import ClientError as _AiohttpClientError

    _TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
        BotoConnectionError,
        HTTPClientError,
        _Urllib3Error,
        _AiohttpClientError,
        _Http1Error,
        TimeoutError,
    )
except ImportError:  # pragma: no cover - aiohttp ships with the async extra
    _TRANSPORT_ERRORS = (
        BotoConnectionError,
        HTTPClientError,
        _Urllib3Error,
        _Http1Error,
        TimeoutError,
    )


def _where(key: str | None, bucket: str | None) -> str:
    if key is not None and bucket is not None:
        return f"{key!r} in bucket {bucket!r}"
    if key is not None:
        return repr(key)
    return f"bucket {bucket!r}" if bucket is not None else "the object store"


CHUNKED_REFUSED = (
    "The object store refused a streamed upload (aws-chunked with a trailing checksum, "
    "which botocore sends over HTTPS when MEDIA_S3_CHECKSUM_MODE=when_supported): "
    "{code}. Ceph RGW and other S3-compatible services do; set "
    "MEDIA_S3_CHECKSUM_MODE=when_required."
)
"""The message of a 411 ``MissingContentLength`` (``{code}``: the code and status)."""


def classify_client_error(
    code: str,
    status: int | None,
    message: str,
    *,
    key: str | None,
    bucket: str | None,
    upload_id: str | None = None,
) -> MediaKitError:
    """The mediakit error for an S3 error ``code`` with HTTP ``status`` (pure).

    ``upload_id`` names the multipart upload the call was about, if any.
    """
    where = _where(key, bucket)
    if code == "NoSuchBucket":
        return StorageError(
            f"The bucket {bucket or ''!r} does not exist on the object store. Create it, or "
            "fix MEDIA_ASSETS_BUCKET / MEDIA_S3_ENDPOINT."
        )
    if code in _NOT_FOUND or (status == 404 and code not in {"NoSuchBucket"}):
        if code == "NoSuchUpload" or upload_id is not None:
            upload = f" {upload_id!r}" if upload_id is not None else ""
            return ObjectNotFound(f"No such multipart upload{upload} for {where}.")
        return ObjectNotFound(f"No object {where}.")
    if code == "MissingContentLength" or status == 411:
        return StorageError(CHUNKED_REFUSED.format(code=f"{code or 'HTTP'} {status or ''}".strip()))
    if code == "InvalidRange" or status == 416:
        return RangeNotSatisfiable(0, f"The requested byte range is outside {where}.")
    if code in _THROTTLED or status in {429, 503} or (status is not None and status >= 500):
        return StorageUnavailable(
            f"The object store is unavailable or throttling ({code or status}) for {where}; "
            "retry later."
        )
    if code in _CREDENTIALS or status == 403:
        return StorageError(
            f"The object store refused access to {where} ({code}: {message}). Check "
            "MEDIA_S3_ACCESS_KEY_ID / MEDIA_S3_SECRET_ACCESS_KEY, MEDIA_S3_REGION and the "
            "bucket policy."
        )
    return StorageError(f"The object store failed on {where}: {code or status}: {message}")


@contextlib.contextmanager
def translate_errors(
    key: str | None = None, *, bucket: str | None = None, upload_id: str | None = None
) -> Iterator[None]:
    """Run a block (or decorate a function) so botocore errors leave as mediakit errors.

    Pass ``upload_id`` for calls about one multipart upload (see the module's docstring).

    Only botocore/aiobotocore/aiohttp errors are translated (``raise ... from exc``);
    mediakit errors and any other exception (a caller's iterator failing, a bug) pass
    through unchanged.
    """
    try:
        yield
    except MediaKitError:
        raise
    except ClientError as exc:
        err = exc.response.get("Error", {}) or {}
        meta = exc.response.get("ResponseMetadata", {}) or {}
        status = meta.get("HTTPStatusCode")
        raise classify_client_error(
            str(err.get("Code", "")),
            int(status) if status is not None else None,
            str(err.get("Message", "")),
            key=key,
            bucket=bucket,
            upload_id=upload_id,
        ) from exc
    except _TRANSPORT_ERRORS as exc:
        raise StorageUnavailable(
            f"The object store could not be reached for {_where(key, bucket)}: {exc}. "
            "Check MEDIA_S3_ENDPOINT and the network; retry later."
        ) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise StorageError(
            "No S3 credentials were found: set MEDIA_S3_ACCESS_KEY_ID and "
            "MEDIA_S3_SECRET_ACCESS_KEY (or the usual AWS variables)."
        ) from exc
    except BotoCoreError as exc:
        raise StorageError(f"The object store failed on {_where(key, bucket)}: {exc}") from exc
