"""process_image / process_track: publish atomically, never half-publish, clean up."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from mediakit.errors import StorageUnavailable
from mediakit.models import ProcessingStatus
from mediakit.processing.tasks import (
    ProcessingContext,
    process_image,
    process_track,
    reprocess_all,
)
from mediakit.repositories.sql import SqlRepositories
from mediakit.storage import ObjectInfo, ObjectStore
from mediakit.storage.s3 import S3ObjectStore
from tests.conftest import s3_client
from tests.fixtures_media import AUDIO_FORMATS, jpeg_bytes, sine_audio
from tests.processing.conftest import add_image, add_track, make_settings
from tests.servers import ServerHandle, need


def keys_of(ctx: ProcessingContext, prefix: str = "") -> list[str]:
    return list(ctx.store.list_keys(prefix))


# --- images ------------------------------------------------------------------------------


def test_image_gets_thumbnails_under_a_revision_and_becomes_ready(ctx: ProcessingContext) -> None:
    """Thumbnails w320/w640/w1280 are stored, the row records them, dims and ``ready``."""
    image = add_image(ctx, jpeg_bytes(2000, 1000, orientation=6))
    process_image(ctx, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.READY
    assert row.failure_reason is None
    assert (row.width, row.height) == (1000, 2000)
    assert [(t.name, t.width, t.height) for t in row.thumbnails] == [
        ("w320", 160, 320),
        ("w640", 320, 640),
        ("w1280", 640, 1280),
    ]
    revs = {t.key.split("/")[2] for t in row.thumbnails}
    assert len(revs) == 1
    for t in row.thumbnails:
        assert t.key.endswith(f"/{t.name}.webp")
        info = ctx.store.head(t.key)
        assert (info.size, info.content_type) == (t.size, "image/webp")
    assert sorted(keys_of(ctx)) == sorted(row.object_keys())


def test_reprocessing_swaps_to_a_new_revision_and_deletes_the_old(ctx: ProcessingContext) -> None:
    """Running again writes new keys, swaps the row, then deletes the previous objects."""
    image = add_image(ctx, jpeg_bytes(800, 600))
    process_image(ctx, image.id)
    first = ctx.repos.images.get(image.id)
    process_image(ctx, image.id)
    second = ctx.repos.images.get(image.id)
    assert first is not None
    assert second is not None
    assert {t.key for t in first.thumbnails}.isdisjoint({t.key for t in second.thumbnails})
    assert sorted(keys_of(ctx)) == sorted(second.object_keys())
    assert second.status is ProcessingStatus.READY


def test_undecodable_image_fails_with_a_reason_and_writes_nothing(ctx: ProcessingContext) -> None:
    """A corrupt original leaves the row ``failed`` with the decoder's reason, no derivatives."""
    image = add_image(ctx, jpeg_bytes(600, 400)[:500])
    process_image(ctx, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert row.failure_reason is not None
    assert "truncated" in row.failure_reason.lower()
    assert keys_of(ctx) == [image.original_key]


def test_failed_reprocess_keeps_the_previous_complete_set(ctx: ProcessingContext) -> None:
    """When re-processing fails, the earlier thumbnails stay published and intact."""
    image = add_image(ctx, jpeg_bytes(800, 600))
    process_image(ctx, image.id)
    good = ctx.repos.images.get(image.id)
    assert good is not None
    ctx.store.put_bytes(image.original_key, b"not an image", content_type="image/jpeg")
    process_image(ctx, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert row.thumbnails == good.thumbnails
    assert sorted(keys_of(ctx)) == sorted(good.object_keys())


def test_over_the_pixel_cap_is_failed(ctx: ProcessingContext) -> None:
    """The pixel cap from settings applies; the reason names the setting."""
    small_cap = attrs.evolve(ctx, settings=make_settings(image_max_pixels=1000))
    image = add_image(small_cap, jpeg_bytes(100, 100))
    process_image(small_cap, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert "MEDIA_IMAGE_MAX_PIXELS" in (row.failure_reason or "")


def test_webp_settings_reach_the_thumbnails(ctx: ProcessingContext) -> None:
    """MEDIA_THUMBNAIL_WEBP_QUALITY / _METHOD are what the job encodes with: the stored
    thumbnails are make_thumbnails' files at those settings, and differ from the defaults'."""
    import io

    from mediakit.processing.images import make_thumbnails

    data = jpeg_bytes(1600, 1200)
    custom = attrs.evolve(
        ctx, settings=make_settings(thumbnail_webp_quality=55, thumbnail_webp_method=1)
    )
    image = add_image(custom, data)
    process_image(custom, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.READY
    sizes = ctx.settings.thumbnail_sizes
    expected = make_thumbnails(io.BytesIO(data), sizes, max_pixels=10**8, quality=55, method=1)
    default = make_thumbnails(io.BytesIO(data), sizes, max_pixels=10**8)
    stored = [b"".join(ctx.store.get_range(t.key)) for t in row.thumbnails]
    assert stored == [t.data for t in expected.thumbnails]
    assert stored != [t.data for t in default.thumbnails]


def test_webp_settings_are_validated_naming_the_variable() -> None:
    """Quality outside 1-100 or method outside 0-6 is a ConfigurationError naming its
    variable; in-range values parse from the environment."""
    from mediakit.errors import ConfigurationError
    from mediakit.settings import Settings

    s = Settings.from_env(
        {"MEDIA_THUMBNAIL_WEBP_QUALITY": "90", "MEDIA_THUMBNAIL_WEBP_METHOD": "0"}
    )
    assert (s.thumbnail_webp_quality, s.thumbnail_webp_method) == (90, 0)
    assert (Settings().thumbnail_webp_quality, Settings().thumbnail_webp_method) == (80, 4)
    for var, bad in (
        ("MEDIA_THUMBNAIL_WEBP_QUALITY", "0"),
        ("MEDIA_THUMBNAIL_WEBP_QUALITY", "101"),
        ("MEDIA_THUMBNAIL_WEBP_METHOD", "7"),
        ("MEDIA_THUMBNAIL_WEBP_METHOD", "-1"),
        ("MEDIA_THUMBNAIL_WEBP_METHOD", "fast"),
    ):
        with pytest.raises(ConfigurationError, match=var):
            Settings.from_env({var: bad})


def test_content_type_restricts_the_decoder(ctx: ProcessingContext) -> None:
    """A PNG stored with the sniffed type image/jpeg is not decoded as PNG."""
    from tests.fixtures_media import png_bytes

    image = add_image(ctx, png_bytes(), content_type="image/jpeg")
    process_image(ctx, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED


@attrs.define
class FaultyStore:
    """Wraps a store; the ``fail_on``-th put raises, ``on_put`` runs before each put."""

    inner: ObjectStore
    fail_on: int | None = None
    on_put: Any = None
    puts: int = 0
    bucket: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.bucket = self.inner.bucket

    def _before(self, key: str) -> None:
        self.puts += 1
        if self.on_put is not None:
            self.on_put(key)
        if self.fail_on is not None and self.puts == self.fail_on:
            raise StorageUnavailable("injected fault")

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        self._before(key)
        return self.inner.put_bytes(key, data, content_type=content_type)

    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str) -> ObjectInfo:
        self._before(key)
        return self.inner.put_stream(key, chunks, content_type=content_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_storage_fault_mid_upload_deletes_what_was_written(ctx: ProcessingContext) -> None:
    """The 2nd thumbnail upload fails: the 1st is deleted, the row is failed, the error raised."""
    image = add_image(ctx, jpeg_bytes(800, 600))
    faulty = attrs.evolve(ctx, store=FaultyStore(ctx.store, fail_on=2))
    with pytest.raises(StorageUnavailable):
        process_image(faulty, image.id)
    row = ctx.repos.images.get(image.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert row.failure_reason == "injected fault"
    assert row.thumbnails == ()
    assert keys_of(ctx) == [image.original_key]


def test_row_deleted_during_processing_leaves_no_objects(ctx: ProcessingContext) -> None:
    """If the image is deleted while thumbnails upload, what was written is deleted."""
    image = add_image(ctx, jpeg_bytes(800, 600))

    def delete_row(key: str) -> None:
        ctx.repos.images.delete(image.id)
        ctx.store.delete(image.original_key)

    process_image(attrs.evolve(ctx, store=FaultyStore(ctx.store, on_put=delete_row)), image.id)
    assert ctx.repos.images.get(image.id) is None
    assert keys_of(ctx) == []


def test_missing_image_is_a_no_op(ctx: ProcessingContext) -> None:
    """Processing an id with no row does nothing."""
    process_image(ctx, "doesnotexist")
    assert keys_of(ctx) == []


# --- tracks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flac(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    exe = None
    from tests.fixtures_media import ffmpeg_exe

    exe = ffmpeg_exe()
    need(
        exe is not None,
        "ffmpeg is not installed: pip install imageio-ffmpeg or apt-get install ffmpeg",
    )
    return sine_audio(tmp_path_factory.mktemp("a"), "flac", seconds=2.0).read_bytes()


@pytest.mark.ffmpeg
def test_track_gets_three_verified_tiers(
    ctx: ProcessingContext, flac: bytes, need_ffmpeg: str
) -> None:
    """A FLAC track gets high/medium/low renditions, duration and bitrate, and ``ready``."""
    track = add_track(ctx, flac, "audio/flac")
    process_track(ctx, track.id)
    row = ctx.repos.tracks.get(track.id)
    assert row is not None
    assert row.status is ProcessingStatus.READY
    assert row.duration_s == pytest.approx(2.0, abs=0.05)
    assert row.bitrate_kbps is not None
    assert row.bitrate_kbps > 0
    assert [(r.name, r.content_type, r.bitrate_kbps) for r in row.renditions] == [
        ("high", "audio/mpeg", 320),
        ("medium", "audio/mpeg", 192),
        ("low", "audio/mp4", 128),
    ]
    for r in row.renditions:
        assert r.key.endswith((f"/{r.name}.mp3", f"/{r.name}.m4a"))
        assert ctx.store.head(r.key).size == r.size
        assert r.duration_s == pytest.approx(2.0, abs=0.1)
    assert sorted(keys_of(ctx)) == sorted(row.object_keys())
    process_track(ctx, track.id)  # idempotent: a new revision replaces the old one
    again = ctx.repos.tracks.get(track.id)
    assert again is not None
    assert sorted(keys_of(ctx)) == sorted(again.object_keys())
    assert {r.key for r in again.renditions}.isdisjoint({r.key for r in row.renditions})


@pytest.mark.ffmpeg
def test_undecodable_track_fails_and_publishes_nothing(
    ctx: ProcessingContext, need_ffmpeg: str
) -> None:
    """A corrupt original leaves the track ``failed`` with a reason and no renditions."""
    track = add_track(ctx, b"fLaC" + b"\x01" * 5000, "audio/flac")
    process_track(ctx, track.id)
    row = ctx.repos.tracks.get(track.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert row.failure_reason
    assert row.renditions == ()
    assert keys_of(ctx) == [track.original_key]


@pytest.mark.ffmpeg
def test_track_storage_fault_removes_uploaded_tiers(
    ctx: ProcessingContext, flac: bytes, need_ffmpeg: str
) -> None:
    """The 3rd tier upload fails: the first two are deleted and the track is failed."""
    track = add_track(ctx, flac, "audio/flac")
    with pytest.raises(StorageUnavailable):
        process_track(attrs.evolve(ctx, store=FaultyStore(ctx.store, fail_on=3)), track.id)
    row = ctx.repos.tracks.get(track.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert keys_of(ctx) == [track.original_key]


@pytest.mark.ffmpeg
def test_pre_encode_off_gives_ready_with_the_original_only(
    ctx: ProcessingContext, flac: bytes, need_ffmpeg: str
) -> None:
    """With MEDIA_AUDIO_PRE_ENCODE off the track is ready at once, duration still recorded."""
    off = attrs.evolve(ctx, settings=make_settings(audio_pre_encode=False))
    track = add_track(off, flac, "audio/flac")
    process_track(off, track.id)
    row = ctx.repos.tracks.get(track.id)
    assert row is not None
    assert row.status is ProcessingStatus.READY
    assert row.renditions == ()
    assert row.duration_s == pytest.approx(2.0, abs=0.05)
    assert keys_of(ctx) == [track.original_key]


def test_pre_encode_off_without_ffmpeg_never_downloads_the_original(
    ctx: ProcessingContext, flac: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MEDIA_AUDIO_PRE_ENCODE off and no usable ffmpeg the track is ready with its
    original only, and the original is never read back from the store (nothing could
    probe it)."""
    settings = make_settings(audio_pre_encode=False, ffmpeg_path=str(tmp_path / "no-ffmpeg"))
    off = attrs.evolve(ctx, settings=settings)
    track = add_track(off, flac, "audio/flac")
    reads: list[str] = []
    real = type(ctx.store).get_range

    def counted(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(key)
        return real(self, key, *args, **kwargs)

    monkeypatch.setattr(type(ctx.store), "get_range", counted)
    process_track(off, track.id)
    row = ctx.repos.tracks.get(track.id)
    assert row is not None
    assert row.status is ProcessingStatus.READY
    assert (row.renditions, row.duration_s) == ((), None)
    assert reads == []
    assert keys_of(ctx) == [track.original_key]


def test_unsupported_track_type_fails(ctx: ProcessingContext) -> None:
    """A track whose sniffed type has no ffmpeg demuxer is failed with a reason."""
    track = add_track(ctx, b"#EXTM3U\n", "application/vnd.apple.mpegurl")
    process_track(ctx, track.id)
    row = ctx.repos.tracks.get(track.id)
    assert row is not None
    assert row.status is ProcessingStatus.FAILED
    assert "cannot be processed" in (row.failure_reason or "")


@pytest.mark.ffmpeg
def test_reprocess_all_yields_progress(
    ctx: ProcessingContext, flac: bytes, need_ffmpeg: str
) -> None:
    """reprocess_all walks every image (or track) and reports each one's outcome."""
    good = add_image(ctx, jpeg_bytes(300, 200))
    bad = add_image(ctx, b"\xff\xd8\xff garbage")
    steps = list(reprocess_all(ctx, "images"))
    assert [(s.done, s.total) for s in steps] == [(1, 2), (2, 2)]
    by_id = {s.item_id: s for s in steps}
    assert by_id[good.id].status is ProcessingStatus.READY
    assert by_id[bad.id].status is ProcessingStatus.FAILED
    assert by_id[bad.id].failure_reason
    track = add_track(ctx, flac, "audio/flac")
    (step,) = reprocess_all(ctx, "tracks")
    assert (step.item_id, step.status) == (track.id, ProcessingStatus.READY)


# --- real S3 (moto server) and SQLite -------------------------------------------------------


@pytest.mark.s3
@pytest.mark.ffmpeg
def test_on_real_s3_and_sqlite(
    moto_server: ServerHandle, fresh_bucket_name: str, tmp_path: Any, flac: bytes, need_ffmpeg: str
) -> None:
    """Images and tracks process end to end against moto over HTTP and a SQLite database."""
    s3_client(moto_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    settings = make_settings(
        storage_backend="s3", s3_endpoint=moto_server.url, assets_bucket=fresh_bucket_name
    )
    repos = SqlRepositories.from_url(f"sqlite:///{tmp_path}/db.sqlite")
    try:
        ctx = ProcessingContext(
            store=S3ObjectStore.from_settings(settings), repos=repos, settings=settings
        )
        image = add_image(ctx, jpeg_bytes(1600, 1200))
        track = add_track(ctx, flac, AUDIO_FORMATS["flac"][2])
        process_image(ctx, image.id)
        process_track(ctx, track.id)
        img = repos.images.get(image.id)
        trk = repos.tracks.get(track.id)
        assert img is not None
        assert trk is not None
        assert (img.status, trk.status) == (ProcessingStatus.READY, ProcessingStatus.READY)
        assert sorted(keys_of(ctx)) == sorted(img.object_keys() + trk.object_keys())
        body: Iterator[bytes] = ctx.store.get_range(img.thumbnails[0].key)
        assert b"".join(body)[8:12] == b"WEBP"
    finally:
        repos.close()
