"""botocore errors become mediakit errors at one point (fast in-process unit tests; the
contract suite checks the same against real servers)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from mediakit.errors import (
    MediaKitError,
    ObjectNotFound,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
    UploadTooLarge,
)
from mediakit.storage import translate_errors


def client_error(code: str, status: int, message: str = "boom") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("NoSuchKey", 404), ObjectNotFound),
        (client_error("404", 404), ObjectNotFound),
        (client_error("NoSuchUpload", 404), ObjectNotFound),
        (client_error("InvalidRange", 416), RangeNotSatisfiable),
        (client_error("SlowDown", 503), StorageUnavailable),
        (client_error("ServiceUnavailable", 503), StorageUnavailable),
        (client_error("ThrottlingException", 400), StorageUnavailable),
        (client_error("InternalError", 500), StorageUnavailable),
        (client_error("Whatever", 502), StorageUnavailable),
        (EndpointConnectionError(endpoint_url="http://x"), StorageUnavailable),
        (ConnectTimeoutError(endpoint_url="http://x"), StorageUnavailable),
        (ReadTimeoutError(endpoint_url="http://x"), StorageUnavailable),
        (ConnectionClosedError(endpoint_url="http://x"), StorageUnavailable),
        (ResponseStreamingError(error="reset"), StorageUnavailable),
        (TimeoutError(), StorageUnavailable),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
def test_errors_map_to_mediakit_errors(exc: Exception, expected: type[MediaKitError]) -> None:
    """Each botocore error becomes its mediakit error, chained to the original."""
    with pytest.raises(expected) as caught, translate_errors("k", bucket="b"):
        raise exc
    assert caught.value.__cause__ is exc


def test_missing_bucket_is_a_storage_error_naming_the_fix() -> None:
    """NoSuchBucket is a StorageError (not ObjectNotFound) naming the bucket setting."""
    with pytest.raises(StorageError) as caught, translate_errors("k", bucket="media"):
        raise client_error("NoSuchBucket", 404)
    assert type(caught.value) is StorageError
    assert "media" in caught.value.message
    assert "MEDIA_ASSETS_BUCKET" in caught.value.message


@pytest.mark.parametrize("code", ["AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"])
def test_refused_credentials_are_a_storage_error_naming_the_settings(code: str) -> None:
    """Access problems say which settings to check."""
    with pytest.raises(StorageError) as caught, translate_errors("k", bucket="b"):
        raise client_error(code, 403)
    assert type(caught.value) is StorageError
    assert "MEDIA_S3_ACCESS_KEY_ID" in caught.value.message


def test_unavailable_carries_retry_after() -> None:
    """StorageUnavailable answers 503 with Retry-After."""
    with pytest.raises(StorageUnavailable) as caught, translate_errors():
        raise client_error("SlowDown", 503)
    assert caught.value.http_status == 503
    assert caught.value.headers["Retry-After"]


def test_other_botocore_errors_are_storage_errors() -> None:
    """Unknown client errors, missing credentials and other botocore errors: StorageError."""
    for exc in (
        client_error("Teapot", 418),
        NoCredentialsError(),
        ParamValidationError(report="bad"),
    ):
        with pytest.raises(StorageError) as caught, translate_errors("k"):
            raise exc
        assert type(caught.value) is StorageError


@pytest.mark.parametrize("exc", [UploadTooLarge("cap"), OSError("disconnect"), KeyError("x")])
def test_non_botocore_errors_pass_through_unchanged(exc: Exception) -> None:
    """A caller's error, or mediakit's own, leaves translate_errors untouched."""
    with pytest.raises(type(exc)) as caught, translate_errors("k"):
        raise exc
    assert caught.value is exc


def test_translate_errors_works_as_a_decorator() -> None:
    """``@translate_errors()`` translates a function's botocore errors."""

    @translate_errors("k", bucket="b")
    def fetch() -> None:
        raise client_error("NoSuchKey", 404)

    with pytest.raises(ObjectNotFound):
        fetch()


@pytest.mark.parametrize("code", ["NoSuchKey", "NoSuchUpload"])
def test_a_missing_upload_is_named_whatever_the_code(code: str) -> None:
    """Ceph RGW answers NoSuchKey for an aborted upload's parts: a call about an upload says
    the upload is gone, not the object."""
    with (
        pytest.raises(ObjectNotFound, match="No such multipart upload 'u-1' for 'k'") as caught,
        translate_errors("k", bucket="b", upload_id="u-1"),
    ):
        raise client_error(code, 404)
    assert caught.value.__cause__ is not None


def test_a_refused_chunked_upload_names_the_checksum_setting() -> None:
    """411 MissingContentLength (Ceph RGW refusing aws-chunked uploads) says what to set."""
    with pytest.raises(StorageError) as caught, translate_errors("k", bucket="b"):
        raise client_error("MissingContentLength", 411)
    assert type(caught.value) is StorageError
    assert "MEDIA_S3_CHECKSUM_MODE=when_required" in caught.value.message
    assert "aws-chunked" in caught.value.message
