"""Garbage collection on moto's S3 server: objects no row references and stale multipart
uploads are found and removed; referenced objects, young objects (uploads in flight) and
other prefixes are left alone."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from mediakit.clock import ManualClock
from mediakit.models import Image, MusicSet, Rendition, Track
from mediakit.repositories.memory import MemoryRepositories
from mediakit.storage.memory import MemoryObjectStore
from mediakit.storage.s3 import S3ObjectStore
from mediakit.uploads.gc import OrphanReport, collect, find_orphans
from tests.conftest import s3_client
from tests.servers import ServerHandle

pytestmark = pytest.mark.s3


def _store(server: ServerHandle, bucket: str) -> S3ObjectStore:
    client: Any = s3_client(server.url)
    client.create_bucket(Bucket=bucket)
    return S3ObjectStore(client=client, bucket=bucket)


@pytest.fixture(params=["moto", "nanio"])
def s3(request: pytest.FixtureRequest, fresh_bucket_name: str) -> S3ObjectStore:
    """A fresh bucket on moto or on nanio."""
    return _store(request.getfixturevalue(f"{request.param}_server"), fresh_bucket_name)


@pytest.fixture
def nanio(nanio_server: ServerHandle, fresh_bucket_name: str) -> S3ObjectStore:
    """A fresh bucket on nanio, which (unlike moto) reports real multipart initiation times."""
    return _store(nanio_server, fresh_bucket_name)


def _rows(repos: MemoryRepositories, now: Any) -> None:
    repos.images.add_many(
        [
            Image(
                id="img1",
                original_key="images/img1/original",
                filename="a.png",
                content_type="image/png",
                size=1,
                created_at=now,
                updated_at=now,
                thumbnails=(Rendition("w320", "images/img1/r1/w320.webp", "image/webp", 1),),
            )
        ]
    )
    repos.music_sets.add(MusicSet(id="set1", title="S", created_at=now, updated_at=now))
    repos.tracks.add_many(
        [
            Track(
                id="t1",
                set_id="set1",
                original_key="music/set1/t1/original",
                filename="a.flac",
                content_type="audio/flac",
                size=1,
                created_at=now,
                updated_at=now,
                renditions=(Rendition("high", "music/set1/t1/r1/high.mp3", "audio/mpeg", 1),),
            )
        ]
    )


def test_unreferenced_old_objects_and_stale_uploads_are_collected(s3: S3ObjectStore) -> None:
    clock = ManualClock(time.time())
    repos = MemoryRepositories.create()
    _rows(repos, clock.now())
    referenced = [
        "images/img1/original",
        "images/img1/r1/w320.webp",
        "music/set1/t1/original",
        "music/set1/t1/r1/high.mp3",
    ]
    orphans = ["images/lost/original", "images/img1/r0/w320.webp", "music/set1/gone/original"]
    for key in [*referenced, *orphans, "other/keep.txt"]:
        s3.put_bytes(key, b"x", content_type="application/octet-stream")
    stale = s3.client.create_multipart_upload(Bucket=s3.bucket, Key="images/half/original")
    elsewhere = s3.client.create_multipart_upload(Bucket=s3.bucket, Key="other/half")

    clock.advance(3600)
    report = find_orphans(s3, repos, min_age=timedelta(minutes=30), clock=clock)
    assert sorted(report.objects) == sorted(orphans)
    assert [u.upload_id for u in report.stale_multipart_uploads] == [stale["UploadId"]]
    assert report.young_skipped == 0
    assert not report.empty

    collect(s3, report)
    assert sorted(s3.list_keys("")) == sorted([*referenced, "other/keep.txt"])
    assert [u.key for u in s3.list_multipart_uploads("")] == ["other/half"]
    assert find_orphans(s3, repos, min_age=timedelta(minutes=30), clock=clock).empty
    s3.abort_multipart_upload("other/half", elsewhere["UploadId"])


@pytest.mark.slow
def test_objects_younger_than_min_age_are_left_alone(nanio: S3ObjectStore) -> None:
    """An upload in flight has written its objects but not yet its rows: never collected."""
    repos = MemoryRepositories.create()
    nanio.put_bytes("images/old/original", b"x", content_type="image/png")
    time.sleep(1.1)  # S3 Last-Modified has one-second precision
    nanio.put_bytes("images/inflight/original", b"x", content_type="image/png")
    nanio.client.create_multipart_upload(Bucket=nanio.bucket, Key="music/s/t/original")
    young = nanio.head("images/inflight/original").last_modified
    clock = ManualClock(young.timestamp() + 0.5)

    report = find_orphans(nanio, repos, min_age=timedelta(seconds=1), clock=clock)
    assert report.objects == ("images/old/original",)
    assert report.stale_multipart_uploads == ()
    assert report.young_skipped == 2
    collect(nanio, report)
    assert list(nanio.list_keys("")) == ["images/inflight/original"]
    assert len(nanio.list_multipart_uploads("")) == 1


def test_default_min_age_protects_everything_just_written(s3: S3ObjectStore) -> None:
    s3.put_bytes("images/new/original", b"x", content_type="image/png")
    report = find_orphans(s3, MemoryRepositories.create())
    assert report == OrphanReport(young_skipped=1)
    assert report.empty


def test_gc_works_on_any_object_store() -> None:
    store = MemoryObjectStore()
    store.put_bytes("images/a/original", b"x", content_type="image/png")
    clock = ManualClock(time.time() + 10)
    report = find_orphans(
        store, MemoryRepositories.create(), min_age=timedelta(seconds=1), clock=clock
    )
    assert report.objects == ("images/a/original",)
    collect(store, report)
    assert list(store.list_keys("")) == []
