"""No request pays start-up costs: the reference app opens its async S3 client at start.

Behaviour, not timing: the aioboto3 client factory is counted; it must have run once
when the lifespan's startup is over, and never again for the requests that follow
(uploads, listings, Range reads through the proxy).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.fastapi_server.app import DemoTokens, create_app

from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings
from mediakit.storage.s3_async import AsyncS3ObjectStore, client_factory
from tests.conftest import s3_client
from tests.fixtures_media import jpeg_bytes
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

TOKENS = DemoTokens("admin-token-startup", "user-token-startup", generated=False)
ADMIN = {"Authorization": f"Bearer {TOKENS.admin}"}
USER = {"Authorization": f"Bearer {TOKENS.user}"}


class CountingFactory:
    """The real aioboto3 client factory, counting how many clients it opened."""

    def __init__(self, settings: Settings) -> None:
        self.inner = client_factory(settings)
        self.opened = 0

    def __call__(self) -> AbstractAsyncContextManager[Any]:
        self.opened += 1
        return self.inner()


@pytest.fixture
def started(
    moto_server: ServerHandle, fresh_bucket_name: str, tmp_path: Path
) -> Iterator[tuple[MediaKit, CountingFactory]]:
    s3_client(moto_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    settings = Settings.from_env(
        {},
        storage_backend="s3",
        s3_endpoint=moto_server.url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_region="us-east-1",
        assets_bucket=fresh_bucket_name,
        database_url=f"sqlite:///{tmp_path / 'startup.db'}",
        audio_pre_encode=False,
        job_runner="inline",
    )
    factory = CountingFactory(settings)
    astore = AsyncS3ObjectStore(bucket=fresh_bucket_name, open_client=factory)
    kit = build_service(settings, astore=astore)
    yield kit, factory
    kit.close()


@pytest.mark.anyio
async def test_the_async_client_is_opened_at_start_not_by_the_first_request(
    started: tuple[MediaKit, CountingFactory],
) -> None:
    kit, factory = started
    app = create_app(kit.settings, TOKENS, kit=kit, web_dir=None)
    assert factory.opened == 0  # building the app opens nothing on a loop it will not run
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),  # as uvicorn runs it, on the serving loop
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        assert factory.opened == 1
        up = await client.post(
            "/api/v1/admin/images/upload",
            headers=ADMIN,
            files=[("files", ("a.jpg", jpeg_bytes(), "image/jpeg"))],
            data={"visible": "true"},
        )
        assert up.status_code == 201, up.text
        image_id = up.json()["items"][0]["id"]
        seek = await client.get(
            f"/api/v1/user/media/{image_id}/stream", headers={**USER, "Range": "bytes=2-9"}
        )
        assert seek.status_code == 206, seek.text
        assert seek.content == jpeg_bytes()[2:10]
        assert (await client.get("/api/v1/user/images", headers=USER)).status_code == 200
        assert factory.opened == 1  # every request used the client opened at start
    assert factory.opened == 1


@pytest.mark.anyio
async def test_astart_is_idempotent_and_aclose_releases_the_client(
    started: tuple[MediaKit, CountingFactory],
) -> None:
    kit, factory = started
    await kit.astart()
    await kit.astart()
    assert factory.opened == 1
    assert isinstance(kit.astore, AsyncS3ObjectStore)
    assert kit.astore._client is not None
    await kit.aclose()
    assert kit.astore._client is None


@pytest.mark.anyio
async def test_astart_on_a_store_without_a_client_is_a_no_op(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {},
        storage_backend="filesystem",
        storage_root=str(tmp_path / "files"),
        database_url=f"sqlite:///{tmp_path / 'fs.db'}",
        signing_secret="s" * 32,
        job_runner="inline",
        audio_pre_encode=False,
    )
    kit = build_service(settings)
    try:
        await kit.astart()  # a thread bridge over the filesystem store: nothing to open
        assert await kit.aservice.list_images(_admin(), admin=True) == {
            "items": [],
            "next_cursor": None,
        }
    finally:
        await kit.aclose()


def _admin() -> Any:
    from mediakit.models import Principal

    return Principal("admin", is_admin=True)
