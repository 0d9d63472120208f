"""Behaviour the service twins must share beyond their signatures (found in review)."""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Iterator

import anyio
import attrs
import pytest

from mediakit.service import MediaKit
from mediakit.uploads.limiter import RedisLimiter
from tests.fixtures_media import jpeg_bytes
from tests.servers import ServerHandle
from tests.service.kit import ADMIN, Twin, make_kit, multipart, seed_set


def _wav() -> bytes:
    """A short silent WAV file (the runner deletes it before any processing)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return out.getvalue()


@attrs.define
class DeletingRunner:
    """A job runner that deletes each submitted item, as a concurrent admin delete would
    between the upload's commit and its response."""

    kit: MediaKit
    submitted: list[str] = attrs.field(factory=list)

    def submit(self, task_name: str, **kwargs: str) -> None:
        """Delete the item instead of processing it."""
        item_id = kwargs.get("image_id") or kwargs["track_id"]
        self.submitted.append(item_id)
        if task_name == "process_image":
            self.kit.repos.images.delete(item_id)
        else:
            self.kit.repos.tracks.delete(item_id)

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop."""


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    k = make_kit()
    runner = DeletingRunner(k)
    k.service.runner = runner
    k.aservice.runner = runner
    yield k
    k.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_upload_answers_every_created_image_even_if_its_row_went_meanwhile(
    kit: MediaKit, mode: str
) -> None:
    """Both twins answer one item per stored file, the row as created when it is gone by
    the final read (the async twin used to drop it: an empty 201 for a stored upload)."""
    body, ct = multipart([("a.jpg", jpeg_bytes(64, 48))], {"title": "Trip"})
    items = Twin(kit, mode).upload_images(ADMIN, body=body, content_type=ct)["items"]
    assert [i["filename"] for i in items] == ["a.jpg"]
    assert items[0]["title"] == "Trip"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_upload_answers_every_created_track_even_if_its_row_went_meanwhile(
    kit: MediaKit, mode: str
) -> None:
    """The same for tracks."""
    music_set, _ = seed_set(kit, tracks=0)
    body, ct = multipart([("t.wav", _wav())], {"title": "Intro"})
    items = Twin(kit, mode).upload_tracks(ADMIN, music_set.id, body=body, content_type=ct)["items"]
    assert [i["filename"] for i in items] == ["t.wav"]
    assert items[0]["title"] == "Intro"


@pytest.mark.redis
def test_kit_aclose_closes_the_async_limiter_connections_as_close_does_the_sync_ones(
    redis_server: ServerHandle,
) -> None:
    """``MediaKit.close()`` releases the Redis limiter's sync connections; ``aclose()``
    must release the async ones the async service opened too (it used not to)."""
    import redis

    name = f"mediakit-review-{uuid.uuid4().hex[:8]}"
    limiter = RedisLimiter(redis_server.url, 2, key_prefix=f"review:{name}:")
    k = attrs.evolve(make_kit(), limiter=limiter)
    admin = redis.Redis.from_url(redis_server.url)

    def named_clients() -> int:
        return sum(1 for c in admin.client_list() if c.get("name") == name)

    async def run() -> int:
        async with limiter.ahold("admin-1"):
            await limiter._async().client_setname(name)
        assert named_clients() == 1
        await k.aclose()
        return named_clients()

    try:
        assert anyio.run(run) == 0, "the async limiter's Redis connection was left open"
    finally:
        admin.close()
