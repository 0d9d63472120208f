"""Fixtures for the processing tests: a processing context over memory or real S3 + SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mediakit import keys
from mediakit.clock import ManualClock
from mediakit.models import Image, MusicSet, Track, new_id
from mediakit.processing.tasks import ProcessingContext
from mediakit.repositories.memory import MemoryRepositories
from mediakit.settings import Settings
from mediakit.storage import ObjectStore
from mediakit.storage.memory import MemoryObjectStore
from tests import servers
from tests.fixtures_media import ffmpeg_exe

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_settings(**kw: object) -> Settings:
    """Settings for processing tests (memory backend, the default sizes)."""
    kw.setdefault("storage_backend", "memory")
    return Settings(**kw)  # type: ignore[arg-type]


@pytest.fixture
def ctx() -> ProcessingContext:
    """A processing context over an in-memory store and repositories."""
    return ProcessingContext(
        store=MemoryObjectStore(),
        repos=MemoryRepositories.create(),
        settings=make_settings(),
        clock=ManualClock(),
    )


@pytest.fixture
def need_ffmpeg() -> str:
    """The ffmpeg binary, or a skip (a failure under CI)."""
    exe = ffmpeg_exe()
    servers.need(exe is not None, "ffmpeg is not installed: pip install imageio-ffmpeg")
    assert exe is not None
    return exe


def add_image(
    ctx: ProcessingContext,
    data: bytes,
    content_type: str = "image/jpeg",
    store: ObjectStore | None = None,
) -> Image:
    """Store ``data`` as an image's original and add its (pending) row."""
    image_id = new_id()
    key = keys.image_original(image_id)
    (store or ctx.store).put_bytes(key, data, content_type=content_type)
    image = Image(
        id=image_id,
        original_key=key,
        filename="photo.jpg",
        content_type=content_type,
        size=len(data),
        created_at=T0,
        updated_at=T0,
    )
    ctx.repos.images.add_many([image])
    return image


def add_track(ctx: ProcessingContext, data: bytes, content_type: str) -> Track:
    """Store ``data`` as a track's original (in a new set) and add its (pending) row."""
    set_id = new_id()
    ctx.repos.music_sets.add(MusicSet(id=set_id, title="Set", created_at=T0, updated_at=T0))
    track_id = new_id()
    key = keys.track_original(set_id, track_id)
    ctx.store.put_bytes(key, data, content_type=content_type)
    (track,) = ctx.repos.tracks.add_many(
        [
            Track(
                id=track_id,
                set_id=set_id,
                original_key=key,
                filename="song",
                content_type=content_type,
                size=len(data),
                created_at=T0,
                updated_at=T0,
            )
        ]
    )
    return track
