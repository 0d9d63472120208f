"""The ``mediakit`` command against the real S3 servers the suite starts (moto, nanio, Ceph
RGW), configured only through environment variables.

Commands run in-process through :func:`mediakit.cli.main` (as the console script calls it),
with their own environment and captured output; a few run as a real subprocess
(``python -m mediakit.cli``) as end-to-end proof of the entry point, the exit status and
what reaches stderr: see ``subprocess=True``.

What each server supports, as ``doctor`` reports it:

- moto: every check passes; it honours ``response-content-*`` overrides and stores
  lifecycle rules, but does not verify signatures (a wrong secret goes unnoticed);
- nanio: verifies SigV4 (a wrong secret fails), serves Range and multipart, but ignores
  ``response-content-type``/``-disposition`` on presigned URLs (a warning);
- Ceph RGW: every check passes with the default checksum mode, and the report says what
  differs from AWS (checksums ignored, an empty CompleteMultipartUpload ETag, NoSuchKey for
  an aborted upload's parts); over HTTPS with ``when_supported`` it refuses botocore's
  aws-chunked uploads (411) and the doctor names the setting that fixes it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess as _subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from types import SimpleNamespace
from typing import Any

import pytest

import mediakit
from mediakit import keys
from mediakit.cli import main as cli_main
from mediakit.models import Principal, ProcessingStatus
from mediakit.repositories.sql import SqlRepositories
from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings
from mediakit.storage import S3ObjectStore
from tests import servers
from tests.conftest import s3_client
from tests.fixtures_media import ffmpeg_exe, jpeg_bytes, sine_audio
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle, free_port
from tests.service.kit import multipart

ADMIN = Principal("admin-1", is_admin=True)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, subprocess: bool = False
) -> CompletedProcess[str]:
    """``mediakit ARGS`` in a clean environment (no MEDIA*/MEDIAKIT* from outside).

    In-process by default: :func:`mediakit.cli.main` with ``os.environ`` replaced for the
    call, stdout/stderr captured and argparse's ``SystemExit`` turned into the exit status.
    ``subprocess=True`` runs ``python -m mediakit.cli`` instead (the entry point end to end).
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIA")}
    full = {**base, **(env or {})}
    if subprocess:
        return _subprocess.run(
            [sys.executable, "-m", "mediakit.cli", *args],
            env=full,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    return _in_process(list(args), full)


def _in_process(args: list[str], env: dict[str, str]) -> CompletedProcess[str]:
    saved_env, saved_tempdir = dict(os.environ), tempfile.tempdir
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again, as a new process would
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(args)
            except SystemExit as exc:  # argparse: --help, --version, a usage error
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        tempfile.tempdir = saved_tempdir
    return CompletedProcess(["mediakit", *args], code, out.getvalue(), err.getvalue())


def s3_env(server: ServerHandle, bucket: str, **extra: str) -> dict[str, str]:
    """The environment of a deployment on ``server``'s ``bucket``."""
    return {
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": server.url,
        "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "MEDIA_ASSETS_BUCKET": bucket,
        "MEDIAKIT_DATABASE_URL": "sqlite:///mediakit-data/cli-test.db",  # explicit: no warning
        **extra,
    }


def _bucket(server: ServerHandle, name: str) -> Any:
    client: Any = s3_client(server.url)
    client.create_bucket(Bucket=name)
    return client


# --- basics --------------------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    r = run_cli("--version", subprocess=True)  # the entry point, end to end
    assert r.returncode == 0
    assert r.stdout.strip() == f"mediakit {mediakit.__version__}" == "mediakit 0.1.0"


def test_console_script_is_declared_and_help_lists_every_command() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for command in ("doctor", "reprocess", "gc", "migrate"):
        assert command in r.stdout


def test_bad_setting_exits_2_naming_the_variable() -> None:
    r = run_cli("gc", env={"MEDIA_PRESIGN_TTL_SECONDS": "soon"}, subprocess=True)
    assert r.returncode == 2
    assert "MEDIA_PRESIGN_TTL_SECONDS" in r.stderr
    assert "Traceback" not in r.stderr


def test_doctor_on_a_non_s3_store_checks_this_machine_only(tmp_path: Path) -> None:
    """No endpoint to check: ffmpeg, libmagic and the database setting only."""
    r = run_cli("doctor", env={"MEDIAKIT_STORAGE": "filesystem"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(no S3: MEDIAKIT_STORAGE=filesystem)" in r.stdout
    for name in ("ffmpeg", "libmagic", "database"):
        assert f"ok    {name}" in r.stdout
    assert "bucket" not in r.stdout.split("\n", 1)[1]


def test_migrate_creates_then_keeps_the_schema(tmp_path: Path) -> None:
    env = {"MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp_path}/db/m.db"}
    first = run_cli("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "from version 0 to" in first.stdout
    again = run_cli("migrate", env=env)
    assert again.returncode == 0
    assert "nothing to do" in again.stdout


# --- doctor --------------------------------------------------------------------------------


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


@pytest.mark.s3
@pytest.mark.slow
def test_doctor_passes_on_moto_and_warns_about_the_missing_lifecycle_rule(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    client = _bucket(moto_server, fresh_bucket_name)
    r = run_cli("doctor", "--json", env=s3_env(moto_server, fresh_bucket_name))
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is True
    assert _statuses(report) == {
        "ffmpeg": "ok",
        "libmagic": "ok",
        "database": "ok",
        "bucket": "ok",
        "checksums": "ok",
        "presigned-get": "ok",
        "range": "ok",
        "multipart": "ok",
        "abort": "ok",
        "lifecycle": "warn",
        "cleanup": "ok",
    }
    lifecycle = next(c for c in report["checks"] if c["name"] == "lifecycle")
    assert "put-bucket-lifecycle-configuration" in lifecycle["hint"]
    assert client.list_objects_v2(Bucket=fresh_bucket_name).get("KeyCount", 0) == 0
    assert not client.list_multipart_uploads(Bucket=fresh_bucket_name).get("Uploads")


@pytest.mark.s3
@pytest.mark.slow
def test_doctor_accepts_a_lifecycle_rule_and_strict_fails_on_warnings(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    client = _bucket(moto_server, fresh_bucket_name)
    env = s3_env(moto_server, fresh_bucket_name)
    strict = run_cli("doctor", "--strict", env=env)
    assert strict.returncode == 1
    assert "warn  lifecycle" in strict.stdout
    assert "--strict" in strict.stdout

    client.put_bucket_lifecycle_configuration(
        Bucket=fresh_bucket_name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-mpu",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    r = run_cli("doctor", "--strict", env=env)
    assert r.returncode == 0, r.stdout
    assert "ok    lifecycle" in r.stdout
    assert "'abort-mpu'" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("passed: 11 ok")


@pytest.mark.s3
@pytest.mark.slow
def test_doctor_passes_on_nanio_with_text_report(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    client = _bucket(nanio_server, fresh_bucket_name)
    r = run_cli("doctor", env=s3_env(nanio_server, fresh_bucket_name))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"mediakit doctor: bucket {fresh_bucket_name!r} at {nanio_server.url}"
    for name in ("bucket", "checksums", "range", "multipart", "abort", "cleanup"):
        assert any(line.startswith(f"  ok    {name} ") for line in lines), (name, r.stdout)
    # nanio ignores response-content-* overrides: a warning with a hint, not a failure
    assert any(line.startswith("  warn  presigned-get") for line in lines)
    assert lines[-1].startswith("passed:")
    assert client.list_objects_v2(Bucket=fresh_bucket_name).get("KeyCount", 0) == 0


ABORT_RULE = {
    "Rules": [
        {
            "ID": "abort-mpu",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
}


@pytest.mark.s3
@pytest.mark.ceph
@pytest.mark.slow
def test_doctor_passes_strictly_on_ceph_rgw_and_reports_how_it_differs(
    ceph_rgw_server: ServerHandle, fresh_bucket_name: str
) -> None:
    client = _bucket(ceph_rgw_server, fresh_bucket_name)
    client.put_bucket_lifecycle_configuration(
        Bucket=fresh_bucket_name, LifecycleConfiguration=ABORT_RULE
    )
    r = run_cli("doctor", "--json", "--strict", env=s3_env(ceph_rgw_server, fresh_bucket_name))
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert set(_statuses(report).values()) == {"ok"}, r.stdout
    details = {c["name"]: c["detail"] for c in report["checks"]}
    assert "ignores x-amz-checksum-*" in details["checksums"]
    assert "empty ETag" in details["multipart"]
    assert "NoSuchKey" in details["abort"]
    assert "response-content-* overrides honoured" in details["presigned-get"]
    assert client.list_objects_v2(Bucket=fresh_bucket_name).get("KeyCount", 0) == 0
    assert not client.list_multipart_uploads(Bucket=fresh_bucket_name).get("Uploads")


@pytest.mark.s3
@pytest.mark.ceph
@pytest.mark.slow
def test_doctor_on_ceph_rgw_over_https_names_the_checksum_setting_that_fixes_uploads(
    ceph_rgw_server: ServerHandle, fresh_bucket_name: str
) -> None:
    """RGW refuses the aws-chunked uploads botocore sends over HTTPS with ``when_supported``
    (411); the doctor says so, and the setting it names makes every check pass."""
    client = _bucket(ceph_rgw_server, fresh_bucket_name)
    ca = ceph_rgw_server.extra["ca_file"]
    env = {
        **s3_env(ceph_rgw_server, fresh_bucket_name),
        "MEDIA_S3_ENDPOINT": ceph_rgw_server.extra["https_url"],
        "AWS_CA_BUNDLE": ca,  # botocore
        "SSL_CERT_FILE": ca,  # the doctor's own urllib fetches
    }
    refused = run_cli("doctor", "--json", env={**env, "MEDIA_S3_CHECKSUM_MODE": "when_supported"})
    assert refused.returncode == 1, refused.stdout + refused.stderr
    checks = {c["name"]: c for c in json.loads(refused.stdout)["checks"]}
    for name in ("checksums", "multipart", "abort"):
        assert checks[name]["status"] == "fail", checks[name]
        assert "411 MissingContentLength" in checks[name]["detail"]
        assert checks[name]["hint"] == "set MEDIA_S3_CHECKSUM_MODE=when_required"
    assert checks["cleanup"]["status"] == "ok"

    fixed = run_cli("doctor", "--json", env={**env, "MEDIA_S3_CHECKSUM_MODE": "when_required"})
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    statuses = _statuses(json.loads(fixed.stdout))
    assert statuses.pop("lifecycle") == "warn"
    assert set(statuses.values()) == {"ok"}
    assert client.list_objects_v2(Bucket=fresh_bucket_name).get("KeyCount", 0) == 0


def _list_parts_answer(status: int) -> Any:
    """A before-call hook answering ListParts with ``status`` (200: the parts are listed)."""

    def hook(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
        parsed: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": status}}
        if status == 200:
            parsed["Parts"] = [{"PartNumber": 1, "ETag": '"x"', "Size": 6}]
        else:
            parsed["Error"] = {"Code": "AccessDenied", "Message": "not in the policy"}
        return SimpleNamespace(status_code=status, headers={}), parsed

    return hook


@pytest.mark.s3
@pytest.mark.parametrize(
    ("status", "expected", "words"),
    [
        (200, "warn", "still answering ListParts"),  # a service keeping an aborted upload
        (403, "ok", "no longer listed (ListParts: "),  # a policy without ListParts
    ],
)
def test_doctor_abort_check_warns_on_a_lingering_upload_and_tolerates_a_refused_list_parts(
    moto_server: ServerHandle,
    fresh_bucket_name: str,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    expected: str,
    words: str,
) -> None:
    _doctor = importlib.import_module("mediakit.cli._doctor")  # the package has a _doctor()
    _bucket(moto_server, fresh_bucket_name)
    make_client = _doctor._doctor_client

    def patched(settings: Settings) -> Any:
        client = make_client(settings)
        client.meta.events.register("before-call.s3.ListParts", _list_parts_answer(status))
        return client

    monkeypatch.setattr(_doctor, "_doctor_client", patched)
    settings = Settings(
        storage_backend="s3",
        s3_endpoint=moto_server.url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        assets_bucket=fresh_bucket_name,
    )
    abort = next(c for c in _doctor.run_doctor(settings).checks if c.name == "abort")
    assert abort.status == expected, abort
    assert words in abort.detail
    if expected == "warn":
        assert "mediakit gc --delete" in str(abort.hint)


@pytest.mark.s3
def test_doctor_fails_clearly_on_a_wrong_secret(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    _bucket(nanio_server, fresh_bucket_name)
    env = s3_env(nanio_server, fresh_bucket_name, MEDIA_S3_SECRET_ACCESS_KEY="not-the-secret")
    r = run_cli("doctor", env=env)
    assert r.returncode == 1
    assert "FAIL  bucket" in r.stdout
    assert "MEDIA_S3_SECRET_ACCESS_KEY" in r.stdout
    assert "skip  multipart" in r.stdout
    assert r.stdout.splitlines()[-1].startswith("FAILED:")
    assert "Traceback" not in r.stderr


@pytest.mark.s3
def test_doctor_fails_clearly_on_a_missing_bucket(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    r = run_cli("doctor", env=s3_env(nanio_server, fresh_bucket_name))
    assert r.returncode == 1
    assert f"FAIL  bucket         the bucket {fresh_bucket_name!r} does not exist" in r.stdout
    assert "MEDIA_ASSETS_BUCKET" in r.stdout


@pytest.mark.s3
def test_doctor_fails_clearly_on_an_unreachable_endpoint() -> None:
    env = {
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "MEDIA_S3_ACCESS_KEY_ID": "a",
        "MEDIA_S3_SECRET_ACCESS_KEY": "b",
    }
    r = run_cli("doctor", "--json", env=env, timeout=60)
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is False
    names = [c["name"] for c in report["checks"]]
    assert names[:3] == ["ffmpeg", "libmagic", "database"]  # this machine's checks first
    bucket = report["checks"][3]
    assert bucket["name"] == "bucket"
    assert bucket["status"] == "fail"
    assert "could not be reached" in bucket["detail"]
    assert "MEDIA_S3_ENDPOINT" in bucket["detail"]
    assert {c["status"] for c in report["checks"][4:]} == {"skip"}


# --- gc and reprocess on a deployment with real rows -------------------------------------


@pytest.fixture
def deployment(
    nanio_server: ServerHandle, fresh_bucket_name: str, tmp_path: Path
) -> Iterator[tuple[MediaKit, dict[str, str]]]:
    """nanio + SQLite, one image uploaded through the service (processed inline)."""
    _bucket(nanio_server, fresh_bucket_name)
    env = s3_env(
        nanio_server,
        fresh_bucket_name,
        MEDIAKIT_DATABASE_URL=f"sqlite:///{tmp_path}/mediakit.db",
        MEDIAKIT_JOB_RUNNER="inline",
        MEDIA_THUMBNAIL_SIZES="64,128",
    )
    settings = Settings.from_env(env)
    kit = build_service(settings, repos=SqlRepositories.from_url(settings.database_url))
    body, ct = multipart([("a.jpg", jpeg_bytes(300, 200))])
    kit.service.upload_images(ADMIN, body=[body], content_type=ct)
    try:
        yield kit, env
    finally:
        kit.close()


def _keys(kit: MediaKit) -> set[str]:
    return set(kit.store.list_keys(""))


@pytest.mark.s3
def test_gc_reports_orphans_and_stale_uploads_and_deletes_only_with_delete(
    deployment: tuple[MediaKit, dict[str, str]],
) -> None:
    kit, env = deployment
    referenced = _keys(kit)
    assert any(k.endswith("/original") for k in referenced)
    assert len(referenced) == 3
    kit.store.put_bytes("images/lost/original", b"x", content_type="image/png")
    store = kit.store
    assert isinstance(store, S3ObjectStore)
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key="music/s/t/original")

    dry = run_cli("gc", "--min-age", "0", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "orphan objects: 1" in dry.stdout
    assert "  images/lost/original" in dry.stdout
    assert "stale multipart uploads: 1" in dry.stdout
    assert upload["UploadId"] in dry.stdout
    assert "dry run: nothing deleted" in dry.stdout
    assert not any(k in dry.stdout for k in referenced)
    assert _keys(kit) == referenced | {"images/lost/original"}
    assert len(kit.store.list_multipart_uploads("")) == 1

    found = json.loads(run_cli("gc", "--min-age", "0", "--json", env=env).stdout)
    assert found["orphan_objects"] == ["images/lost/original"]
    assert [u["upload_id"] for u in found["stale_multipart_uploads"]] == [upload["UploadId"]]

    young = run_cli("gc", env=env)  # default min-age: a day
    assert "orphan objects: 0" in young.stdout
    assert "left alone: 2" in young.stdout

    deleted = run_cli("gc", "--delete", "--min-age", "0", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted 1 object(s), aborted 1 multipart upload(s)" in deleted.stdout
    assert _keys(kit) == referenced
    assert kit.store.list_multipart_uploads("") == []
    assert "nothing to collect" in run_cli("gc", "--min-age", "0", env=env).stdout


@pytest.mark.s3
def test_reprocess_regenerates_renditions_under_a_new_revision(
    deployment: tuple[MediaKit, dict[str, str]],
) -> None:
    kit, env = deployment
    (image,) = kit.repos.images.list(visible_only=False, limit=10).items
    assert image.status is ProcessingStatus.READY
    old = {t.key for t in image.thumbnails}
    assert len(old) == 2

    r = run_cli("reprocess", "images", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"[1/1] image {image.id}: ready" in r.stdout
    assert "re-processed: 1 ready, 0 failed" in r.stdout

    after = kit.repos.images.get(image.id)
    assert after is not None
    assert after.status is ProcessingStatus.READY
    new = {t.key for t in after.thumbnails}
    assert len(new) == 2
    assert not new & old
    assert {t.name for t in after.thumbnails} == {t.name for t in image.thumbnails}
    assert _keys(kit) == {keys.image_original(image.id), *new}

    by_id = run_cli("reprocess", "--id", image.id, env=env)
    assert by_id.returncode == 0, by_id.stdout + by_id.stderr
    assert f"image {image.id}: ready" in by_id.stdout


@pytest.mark.s3
def test_reprocess_unknown_id_exits_1(deployment: tuple[MediaKit, dict[str, str]]) -> None:
    _, env = deployment
    r = run_cli("reprocess", "tracks", "--id", "nope", env=env)
    assert r.returncode == 1
    assert "track nope: missing (no tracks has this id)" in r.stdout


@pytest.mark.s3
@pytest.mark.ffmpeg
def test_reprocess_tracks_regenerates_the_audio_tiers(
    deployment: tuple[MediaKit, dict[str, str]], tmp_path: Path
) -> None:
    servers.need(ffmpeg_exe() is not None, "ffmpeg is needed (apt-get install ffmpeg)")
    kit, env = deployment
    music_set = kit.service.create_music_set(ADMIN, title="Tones")
    body, ct = multipart([("tone.wav", sine_audio(tmp_path, "wav", seconds=1.0).read_bytes())])
    (item,) = kit.service.upload_tracks(ADMIN, music_set["id"], [body], content_type=ct)["items"]
    track = kit.repos.tracks.get(item["id"])
    assert track is not None
    assert track.status is ProcessingStatus.READY
    old = {r.key for r in track.renditions}

    r = run_cli("reprocess", "tracks", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"[1/1] track {track.id}: ready" in r.stdout

    after = kit.repos.tracks.get(track.id)
    assert after is not None
    new = {r.key for r in after.renditions}
    assert {r.name for r in after.renditions} == {r.name for r in track.renditions}
    assert new.isdisjoint(old)
    stored = _keys(kit)
    assert new <= stored
    assert stored.isdisjoint(old)
