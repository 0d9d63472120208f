"""``mediakit doctor``: check that an S3 endpoint does what mediakit relies on.

The checks follow the original project's "Verification Needed" list (Strato S3 was the
provider in doubt): the bucket answers, a put with the configured checksum mode is
accepted, a URL from mediakit's own presigner can be fetched, Range requests work on
presigned URLs, multipart uploads work, an aborted upload is gone, and a lifecycle rule
aborts incomplete multipart uploads. Running them on Ceph RGW taught three more things
the report now says: whether the service verifies checksums or ignores them, whether it
refuses aws-chunked uploads (411, with ``when_supported`` over HTTPS), and whether it
answers CompleteMultipartUpload without an ETag. Every object the checks write lives under ``mediakit-doctor/<random>/`` and is
deleted at the end, and the last check verifies that nothing was left behind.

The checks go through the same code the application uses (:class:`S3ObjectStore`, the
client configuration from settings, :func:`~mediakit.presign.build_signer`), so a pass
means the application's own calls work; errors arrive as mediakit errors, already
translated by the storage layer.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

import attrs
import boto3
from botocore.config import Config

from mediakit.errors import MediaKitError, ObjectNotFound
from mediakit.presign import build_signer
from mediakit.settings import Settings
from mediakit.storage import ByteSpan, S3ObjectStore, translate_errors
from mediakit.storage._common import client_config_kwargs, client_kwargs
from mediakit.storage._errors import CHUNKED_REFUSED

__all__ = ["Check", "DoctorReport", "Status", "local_checks", "run_doctor", "run_local_doctor"]

Status = Literal["ok", "warn", "fail", "skip"]

MiB = 1024 * 1024
_PREFIX = "mediakit-doctor/"
_SMALL_SIZE = 256 * 1024 + 17
_PART_SIZE = 5 * MiB  # the S3 minimum part size
_MULTIPART_SIZE = 2 * _PART_SIZE + 4099  # two full parts and a short last one
_UPLOAD_TYPE = "application/x-mediakit-doctor"
_SIGNED_TYPE = "application/octet-stream"
_SIGNED_DISPOSITION = 'attachment; filename="mediakit-doctor.bin"'
_HTTP_TIMEOUT = 20.0

CHECKSUM_HINT = "set MEDIA_S3_CHECKSUM_MODE=when_required"
_WRONG_CRC32 = "AAAAAA=="  # the CRC32 of no test object the doctor writes

LIFECYCLE_HINT = (
    "add a rule, e.g. aws s3api put-bucket-lifecycle-configuration --bucket {bucket} "
    '--lifecycle-configuration \'{{"Rules":[{{"ID":"abort-incomplete-multipart",'
    '"Status":"Enabled","Filter":{{"Prefix":""}},'
    '"AbortIncompleteMultipartUpload":{{"DaysAfterInitiation":1}}}}]}}\' '
    "(or run `mediakit gc --delete` periodically)"
)


@attrs.frozen
class Check:
    """The outcome of one check."""

    name: str
    status: Status
    detail: str
    hint: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
            "seconds": round(self.seconds, 4),
        }


@attrs.frozen
class DoctorReport:
    """Every check's outcome, and what was checked."""

    endpoint: str
    bucket: str
    checks: tuple[Check, ...]
    strict: bool = False

    @property
    def failed(self) -> bool:
        """A check failed (or, with ``strict``, warned)."""
        bad = {"fail", "warn"} if self.strict else {"fail"}
        return any(c.status in bad for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "strict": self.strict,
            "ok": not self.failed,
            "checks": [c.to_json() for c in self.checks],
        }

    def to_text(self) -> str:
        """One line per check (``ok``/``warn``/``FAIL``/``skip``), hints indented below."""
        labels = {"ok": "ok", "warn": "warn", "fail": "FAIL", "skip": "skip"}
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"mediakit doctor: bucket {self.bucket!r} at {self.endpoint}"]
        for c in self.checks:
            lines.append(f"  {labels[c.status]:<4}  {c.name:<{width}}  {c.detail}")
            if c.hint:
                lines.append(f"  {'':<4}  {'':<{width}}  hint: {c.hint}")
        counts = {s: sum(c.status == s for c in self.checks) for s in labels}
        verdict = "FAILED" if self.failed else "passed"
        lines.append(
            f"{verdict}: {counts['ok']} ok, {counts['warn']} warning(s), "
            f"{counts['fail']} failed, {counts['skip']} skipped"
            + (" (--strict: warnings fail)" if self.strict and counts["warn"] else "")
        )
        return "\n".join(lines)


def _doctor_client(settings: Settings) -> Any:
    """A boto3 client with the application's configuration but fewer retries, so an
    unreachable endpoint is reported in seconds rather than minutes."""
    config = {
        **client_config_kwargs(settings),
        "retries": {"mode": "standard", "max_attempts": 2},
        "connect_timeout": 5,
        "read_timeout": 30,
    }
    return boto3.session.Session().client("s3", config=Config(**config), **client_kwargs(settings))


@attrs.define
class _CompleteEtags:
    """The raw ETags the service answered to CompleteMultipartUpload (a botocore hook: the
    store reads a missing one back, so only the wire shows whether it was there)."""

    seen: list[str] = attrs.field(factory=list)

    def __call__(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        if "Error" not in parsed:
            self.seen.append(str(parsed.get("ETag") or ""))


def _fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` with urllib; HTTP errors are returned, not raised.

    urllib rather than botocore or httpx: the point is to fetch the URL the way a browser
    does, with no S3 client involved, and the standard library is all the core depends on.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(req, timeout=_HTTP_TIMEOUT) as resp:  # noqa: S310
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _snippet(body: bytes) -> str:
    text = body[:300].decode("utf-8", "replace").replace("\n", " ")
    return text or "(empty body)"


@attrs.define
class _Doctor:
    settings: Settings
    store: S3ObjectStore
    strict: bool
    prefix: str
    checks: list[Check] = attrs.field(factory=list)
    small: bytes = b""
    small_key: str = ""
    written: list[str] = attrs.field(factory=list)
    complete_etags: _CompleteEtags = attrs.field(factory=_CompleteEtags)

    def run(self, name: str, fn: Callable[[], Check]) -> Check:
        start = time.perf_counter()
        try:
            check = fn()
        except MediaKitError as exc:
            # the storage layer's messages already say what to check
            check = Check(name, "fail", exc.message)
        except OSError as exc:  # urllib transport errors
            check = Check(name, "fail", f"{type(exc).__name__}: {exc}", "check the network")
        except Exception as exc:  # a diagnostic tool reports, it does not crash
            check = Check(name, "fail", f"unexpected {type(exc).__name__}: {exc}")
        check = attrs.evolve(check, seconds=time.perf_counter() - start)
        self.checks.append(check)
        return check

    def skip(self, name: str, why: str) -> None:
        self.checks.append(Check(name, "skip", why))

    # --- the checks ---------------------------------------------------------------------

    def bucket(self) -> Check:
        try:
            with translate_errors(bucket=self.store.bucket):
                self.store.client.head_bucket(Bucket=self.store.bucket)
        except ObjectNotFound:  # a HEAD's 404 has no body, so no NoSuchBucket code
            return Check(
                "bucket",
                "fail",
                f"the bucket {self.store.bucket!r} does not exist at {_endpoint(self.settings)}",
                "create it, or fix MEDIA_ASSETS_BUCKET / MEDIA_S3_ENDPOINT",
            )
        return Check("bucket", "ok", "reachable (HeadBucket)")

    def checksums(self) -> Check:
        mode = self.settings.s3_checksum_mode
        self.small = os.urandom(_SMALL_SIZE)
        self.small_key = f"{self.prefix}small.bin"
        self.written.append(self.small_key)
        try:
            info = self.store.put_bytes(self.small_key, self.small, content_type=_UPLOAD_TYPE)
        except MediaKitError as exc:
            if _chunked_refused(exc):
                return _chunked_check("checksums")
            hint = None
            if mode == "when_supported":
                hint = f"the service may reject CRC checksums: {CHECKSUM_HINT}"
            return Check("checksums", "fail", f"PutObject refused: {exc.message}", hint)
        head = self.store.head(self.small_key)
        if head.size != len(self.small):
            return Check(
                "checksums",
                "fail",
                f"stored {head.size} bytes instead of {len(self.small)}",
                "the service corrupts uploads with this checksum mode",
            )
        return Check(
            "checksums",
            "ok",
            f"PutObject accepted with MEDIA_S3_CHECKSUM_MODE={mode} (ETag {info.etag}); "
            + self._verifies_checksums(),
        )

    def _verifies_checksums(self) -> str:
        """Whether the service checks ``x-amz-checksum-*``: a PUT with a wrong CRC32."""
        key = f"{self.prefix}wrong-checksum.bin"
        self.written.append(key)
        try:
            with translate_errors(key, bucket=self.store.bucket):
                self.store.client.put_object(
                    Bucket=self.store.bucket,
                    Key=key,
                    Body=b"mediakit doctor",
                    ContentType=_UPLOAD_TYPE,
                    ChecksumCRC32=_WRONG_CRC32,
                )
        except MediaKitError as exc:
            code = _error_code(exc)
            if code in {"BadDigest", "InvalidRequest", "XAmzContentChecksumMismatch"}:
                return f"the service verifies checksums (a wrong CRC32 was refused: {code})"
            return f"a PUT with a wrong CRC32 failed otherwise: {exc.message}"
        return (
            "the service ignores x-amz-checksum-* (a wrong CRC32 was accepted, as Ceph RGW "
            "does): when_supported adds nothing there"
        )

    def presigned_get(self) -> Check:
        signer = build_signer(self.settings)
        url = signer.sign(
            self.small_key, content_type=_SIGNED_TYPE, disposition=_SIGNED_DISPOSITION
        ).url
        status, headers, body = _fetch(url)
        if status != 200:
            hint = "the service rejects mediakit's SigV4 query signature: check MEDIA_S3_REGION"
            if not self.settings.s3_path_style:
                hint += " and try MEDIA_S3_PATH_STYLE=true"
            return Check("presigned-get", "fail", f"HTTP {status}: {_snippet(body)}", hint)
        if body != self.small:
            return Check(
                "presigned-get",
                "fail",
                f"HTTP 200 but {len(body)} bytes differ from the {len(self.small)} stored",
                None,
            )
        problems = []
        if headers.get("content-type", "").split(";")[0].strip() != _SIGNED_TYPE:
            problems.append(f"Content-Type {headers.get('content-type')!r}")
        if headers.get("content-disposition") != _SIGNED_DISPOSITION:
            problems.append(f"Content-Disposition {headers.get('content-disposition')!r}")
        if problems:
            return Check(
                "presigned-get",
                "warn",
                "the URL works but the service ignores response-content-type/-disposition ("
                + ", ".join(problems)
                + ")",
                "downloads will not be named and types come from the upload; "
                "consider MEDIA_DELIVERY=proxy",
            )
        return Check(
            "presigned-get", "ok", "presigned URL fetched; response-content-* overrides honoured"
        )

    def range_get(self) -> Check:
        signer = build_signer(self.settings)
        url = signer.sign(self.small_key, content_type=_SIGNED_TYPE).url
        first, last = len(self.small) // 3, len(self.small) // 3 + 65_535
        status, headers, body = _fetch(url, {"Range": f"bytes={first}-{last}"})
        want = self.small[first : last + 1]
        expected_range = f"bytes {first}-{last}/{len(self.small)}"
        if status == 200:
            return Check(
                "range",
                "fail",
                "the service ignored Range on a presigned URL (200 with the whole object)",
                "audio cannot seek through presigned URLs here: set MEDIA_DELIVERY=proxy",
            )
        if status != 206:
            return Check("range", "fail", f"HTTP {status}: {_snippet(body)}", None)
        if body != want or headers.get("content-range") != expected_range:
            return Check(
                "range",
                "fail",
                f"206 with wrong bytes or Content-Range {headers.get('content-range')!r} "
                f"(expected {expected_range!r})",
                "set MEDIA_DELIVERY=proxy",
            )
        return Check("range", "ok", f"206 {expected_range} with the right bytes")

    def multipart(self) -> Check:
        key = f"{self.prefix}multipart.bin"
        self.written.append(key)
        data = os.urandom(_MULTIPART_SIZE)
        store = attrs.evolve(self.store, part_size=_PART_SIZE)
        view = memoryview(data)
        chunks = (bytes(view[i : i + MiB]) for i in range(0, len(data), MiB))
        try:
            info = store.put_stream(key, chunks, content_type=_UPLOAD_TYPE)
        except MediaKitError as exc:
            if _chunked_refused(exc):
                return _chunked_check("multipart")
            raise
        head = store.head(key)
        if head.size != len(data):
            return Check("multipart", "fail", f"stored {head.size} bytes of {len(data)}", None)
        if info.etag != head.etag:
            return Check(
                "multipart",
                "fail",
                f"the upload reported ETag {info.etag!r} but HEAD answers {head.etag!r}",
                "ETag-based caching (If-None-Match, If-Range) would misbehave; report a bug",
            )
        # read across the first part boundary
        span = ByteSpan(_PART_SIZE - 1000, _PART_SIZE + 999)
        got = b"".join(store.get_range(key, span))
        if got != data[span.first : span.last + 1]:
            return Check("multipart", "fail", "bytes across a part boundary differ", None)
        parts = -(-len(data) // _PART_SIZE)
        detail = f"{parts}-part upload of {len(data)} bytes completed and read back"
        if any(not etag.strip('"') for etag in self.complete_etags.seen):
            detail += (
                "; the service answered CompleteMultipartUpload with an empty ETag (as Ceph "
                "RGW does): mediakit reads it back with a HEAD"
            )
        return Check("multipart", "ok", detail)

    def abort(self) -> Check:
        """An aborted upload is gone: not listed, its parts not listable."""
        key = f"{self.prefix}aborted.bin"
        client, bucket = self.store.client, self.store.bucket
        with translate_errors(key, bucket=bucket):
            upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            with translate_errors(key, bucket=bucket, upload_id=upload_id):
                client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"doctor"
                )
        except MediaKitError as exc:
            if _chunked_refused(exc):
                return _chunked_check("abort")
            raise
        finally:
            self.store.abort_multipart_upload(key, upload_id)
        listed = any(u.upload_id == upload_id for u in self.store.list_multipart_uploads(key))
        code: str | None = None
        refused: str | None = None
        try:
            with translate_errors(key, bucket=bucket, upload_id=upload_id):
                client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
        except ObjectNotFound as exc:
            code = _error_code(exc)
        except MediaKitError as exc:  # e.g. a policy without s3:ListMultipartUploadParts
            refused = exc.message
        if listed or (code is None and refused is None):
            return Check(
                "abort",
                "warn",
                "an aborted multipart upload is still "
                + ("listed" if listed else "answering ListParts"),
                "its parts may still be stored: run `mediakit gc --delete` later",
            )
        if refused is not None:
            return Check(
                "abort", "ok", f"an aborted upload is no longer listed (ListParts: {refused})"
            )
        detail = f"an aborted upload is gone (ListParts answers {code})"
        if code != "NoSuchUpload":
            detail += "; mediakit reads any not-found there as the upload being gone"
        return Check("abort", "ok", detail)

    def lifecycle(self) -> Check:
        try:
            with translate_errors(bucket=self.store.bucket):
                conf = self.store.client.get_bucket_lifecycle_configuration(
                    Bucket=self.store.bucket
                )
        except ObjectNotFound:
            rules: list[Any] = []
        except MediaKitError as exc:
            return Check(
                "lifecycle",
                "warn",
                f"could not read the lifecycle configuration: {exc.message}",
                "if the service has no lifecycle rules, run `mediakit gc --delete` periodically",
            )
        else:
            rules = list(conf.get("Rules", []))
        for rule in rules:
            abort = rule.get("AbortIncompleteMultipartUpload") or {}
            days = abort.get("DaysAfterInitiation")
            if rule.get("Status") == "Enabled" and days is not None:
                return Check(
                    "lifecycle",
                    "ok",
                    f"rule {rule.get('ID', '?')!r} aborts incomplete multipart uploads "
                    f"after {days} day(s)",
                )
        return Check(
            "lifecycle",
            "warn",
            "no enabled lifecycle rule aborts incomplete multipart uploads",
            LIFECYCLE_HINT.format(bucket=self.store.bucket),
        )

    def cleanup(self) -> Check:
        problems: list[str] = []
        try:
            if self.written:
                self.store.delete_many(self.written)
        except MediaKitError as exc:
            problems.append(exc.message)
        leftovers = list(self.store.list_keys(self.prefix))
        for upload in self.store.list_multipart_uploads(self.prefix):
            with contextlib.suppress(MediaKitError):
                self.store.abort_multipart_upload(upload.key, upload.upload_id)
        open_uploads = self.store.list_multipart_uploads(self.prefix)
        if leftovers:
            problems.append(f"objects left: {', '.join(leftovers)}")
        if open_uploads:
            problems.append(f"{len(open_uploads)} multipart upload(s) left open")
        if problems:
            return Check(
                "cleanup",
                "fail",
                "; ".join(problems),
                f"delete everything under {self.prefix!r} by hand",
            )
        return Check("cleanup", "ok", f"every test object under {self.prefix!r} deleted")


def _chunked_check(name: str) -> Check:
    """A failed check: the service refused an aws-chunked upload."""
    return Check(
        name,
        "fail",
        "the upload was refused with 411 MissingContentLength: the service does not accept "
        "aws-chunked uploads with a trailing checksum (botocore sends them over HTTPS with "
        "MEDIA_S3_CHECKSUM_MODE=when_supported; Ceph RGW refuses them)",
        CHECKSUM_HINT,
    )


def _chunked_refused(exc: MediaKitError) -> bool:
    """The error is the service refusing an aws-chunked upload (411)."""
    return exc.message.startswith(CHUNKED_REFUSED.split(":", 1)[0])


def _error_code(exc: BaseException) -> str:
    """The S3 error code behind a translated error (``?`` if there is none)."""
    cause = exc.__cause__
    response = getattr(cause, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or "?")


def _endpoint(settings: Settings) -> str:
    return settings.s3_endpoint or f"AWS S3 ({settings.s3_region})"


_LOCAL_OK = {
    "ffmpeg": "an ffmpeg with libmp3lame and aac is available for the audio tiers",
    "libmagic": "libmagic answers (uploads are checked by their content)",
    "database": "MEDIAKIT_DATABASE_URL is set",
}


def local_checks(settings: Settings, *, uses_database_url: bool = True) -> list[Check]:
    """The checks of this machine (:func:`mediakit.preflight.preflight`): ``ffmpeg``
    (when audio pre-encoding is on), ``libmagic``, ``database`` (an implicit SQLite
    next to S3 storage is a warning)."""
    from mediakit.preflight import implicit_database, preflight

    t0 = time.monotonic()
    found = {
        f.check: f
        for f in preflight(settings, local_processing=True, uses_database_url=uses_database_url)
    }
    took = time.monotonic() - t0
    out: list[Check] = []
    for name in ("ffmpeg", "libmagic", "database"):
        f = found.get(name)
        if f is not None:
            status: Status = "fail" if f.level == "error" else "warn"
            out.append(
                Check(name, status, f.message, hint=f"set or install: {f.setting}", seconds=took)
            )
        elif name == "ffmpeg" and not settings.audio_pre_encode:
            out.append(Check(name, "skip", "MEDIA_AUDIO_PRE_ENCODE is off", seconds=took))
        elif name == "database" and not uses_database_url:
            out.append(Check(name, "skip", "the repositories use another database", seconds=took))
        elif name == "database" and (
            settings.storage_backend != "s3" or not implicit_database(settings)
        ):
            detail = (
                "MEDIAKIT_DATABASE_URL is set"
                if not implicit_database(settings)
                else "the embedded SQLite default, next to a local store"
            )
            out.append(Check(name, "ok", detail, seconds=took))
        else:
            out.append(Check(name, "ok", _LOCAL_OK[name], seconds=took))
    return out


def run_local_doctor(
    settings: Settings, *, strict: bool = False, uses_database_url: bool = True
) -> DoctorReport:
    """Only the checks of this machine (:func:`local_checks`): for a non-S3 store."""
    where = f"(no S3: MEDIAKIT_STORAGE={settings.storage_backend})"
    checks = local_checks(settings, uses_database_url=uses_database_url)
    return DoctorReport(where, settings.assets_bucket, tuple(checks), strict)


def run_doctor(
    settings: Settings, *, strict: bool = False, uses_database_url: bool = True
) -> DoctorReport:
    """Run every check against ``settings``' S3 bucket and return the report.

    The checks of this machine (:func:`local_checks`: ffmpeg, libmagic, the database
    setting) come first. Later checks are skipped when the bucket cannot be reached;
    the clean-up check always runs once something was written.
    """
    client = _doctor_client(settings)
    store = S3ObjectStore(client=client, bucket=settings.assets_bucket, part_size=_PART_SIZE)
    doc = _Doctor(settings, store, strict, f"{_PREFIX}{secrets.token_hex(8)}/")
    client.meta.events.register(
        "after-call.s3.CompleteMultipartUpload", doc.complete_etags, unique_id="mediakit-doctor"
    )
    doc.checks.extend(local_checks(settings, uses_database_url=uses_database_url))
    order: list[tuple[str, Callable[[], Check]]] = [
        ("checksums", doc.checksums),
        ("presigned-get", doc.presigned_get),
        ("range", doc.range_get),
        ("multipart", doc.multipart),
        ("abort", doc.abort),
    ]
    if doc.run("bucket", doc.bucket).status != "ok":
        for name in [*(n for n, _ in order), "lifecycle"]:
            doc.skip(name, "the bucket is not reachable")
        return DoctorReport(_endpoint(settings), settings.assets_bucket, tuple(doc.checks), strict)
    try:
        for name, fn in order:
            needs_object = name in {"presigned-get", "range"}
            if needs_object and not any(
                c.name == "checksums" and c.status == "ok" for c in doc.checks
            ):
                doc.skip(name, "the test object could not be written")
            else:
                doc.run(name, fn)
        doc.run("lifecycle", doc.lifecycle)
    finally:
        doc.run("cleanup", doc.cleanup)
    return DoctorReport(_endpoint(settings), settings.assets_bucket, tuple(doc.checks), strict)
