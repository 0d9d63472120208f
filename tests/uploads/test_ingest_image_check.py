"""Images are checked at the door: a bomb or a truncated file refuses the whole batch, with
nothing left in the store (memory, or moto's S3 server over HTTP) or the database."""

# ruff: noqa: F811 - the fixtures of test_ingest are imported and used as arguments

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from mediakit.errors import ImageRefused
from mediakit.repositories import Repositories
from mediakit.storage import ObjectStore
from mediakit.uploads.ingest import aingest_images, ingest_images
from tests.fixtures_media import jpeg_bytes, png_bytes
from tests.hostile_images import BOMB_SIZES, tiny_bomb_png
from tests.uploads._forms import Part
from tests.uploads.test_ingest import (  # noqa: F401 - fixtures
    ADMIN,
    areader,
    assert_nothing_left,
    async_store,
    moto_server_if_s3,
    reader,
    repos,
    store,
)

GOOD: list[Part] = [
    ("files", "a.jpg", jpeg_bytes(320, 240)),
    ("files", "b.png", png_bytes(200, 100)),
    ("files", "c.jpg", jpeg_bytes(100, 300)),
    ("files", "d.png", png_bytes(64, 64)),
]


def batch(bad_name: str, bad: bytes) -> list[Part]:
    """ok, ok, bad, ok, ok."""
    return [*GOOD[:2], ("files", bad_name, bad), *GOOD[2:]]


BAD = [
    pytest.param("bomb.png", tiny_bomb_png(w, h), "MEDIA_IMAGE_MAX_PIXELS", id=f"bomb-{w}x{h}")
    for w, h in BOMB_SIZES
] + [
    pytest.param(
        "cut.jpg", jpeg_bytes(800, 600)[:4000], "truncated or corrupt", id="truncated-jpeg"
    ),
    pytest.param("short.png", tiny_bomb_png(3000, 2000), "cannot hold", id="png-data-too-short"),
]


@pytest.mark.parametrize(("name", "bad", "why"), BAD)
def test_one_bad_image_refuses_the_batch_and_leaves_nothing(
    store: ObjectStore, repos: Repositories, name: str, bad: bytes, why: str
) -> None:
    """ok, ok, bad, ok, ok: ImageRefused (422) naming the file and the reason; 0 rows,
    0 objects, no open multipart upload."""
    with pytest.raises(ImageRefused) as info:
        ingest_images(reader(batch(name, bad)), store=store, repos=repos, principal=ADMIN)
    assert info.value.http_status == 422
    assert repr(name) in info.value.message
    assert why in info.value.message
    assert_nothing_left(store, repos)


def test_max_pixels_is_the_setting_passed_in(store: ObjectStore, repos: Repositories) -> None:
    """A 320x240 JPEG passes at the default limit and is refused under max_pixels=10000."""
    with pytest.raises(ImageRefused, match=r"320x240 = 76800 pixels.*MEDIA_IMAGE_MAX_PIXELS"):
        ingest_images(
            reader(GOOD[:1]), store=store, repos=repos, principal=ADMIN, max_pixels=10_000
        )
    assert_nothing_left(store, repos)
    images = ingest_images(reader(GOOD), store=store, repos=repos, principal=ADMIN)
    assert [(i.filename, i.content_type) for i in images] == [
        ("a.jpg", "image/jpeg"),
        ("b.png", "image/png"),
        ("c.jpg", "image/jpeg"),
        ("d.png", "image/png"),
    ]
    assert len(list(store.list_keys("images/"))) == 4


@pytest.mark.parametrize(("name", "bad", "why"), BAD[:1] + BAD[3:4])
def test_async_one_bad_image_refuses_the_batch(
    store: ObjectStore,
    repos: Repositories,
    async_store: Callable[[], Any],
    name: str,
    bad: bytes,
    why: str,
) -> None:
    """The async twin refuses the same way (the check runs in a worker thread)."""

    async def main() -> None:
        astore = async_store()
        try:
            await aingest_images(
                areader(batch(name, bad)), store=astore, repos=repos, principal=ADMIN
            )
        finally:
            await astore.aclose()

    with pytest.raises(ImageRefused, match=why):
        anyio.run(main)
    assert_nothing_left(store, repos)
