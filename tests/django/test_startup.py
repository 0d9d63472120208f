"""MediakitASGIHandler speaks ASGI lifespan: the kit and its async S3 client are ready
before the first request (behaviour, not timing: the client factory is counted)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mediakit.service import MediaKit, build_service
from mediakit.storage.s3_async import AsyncS3ObjectStore
from tests.conftest import s3_client
from tests.django.support import clear_tables, ensure_django
from tests.fastapi_adapter.test_startup import CountingFactory
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

ensure_django()

from mediakit_django.asgi import MediakitASGIHandler  # noqa: E402


@pytest.fixture
def s3_kit(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> Iterator[tuple[MediaKit, CountingFactory]]:
    from mediakit_django.conf import mediakit_settings
    from mediakit_django.kit import set_kit
    from mediakit_django.repositories import DjangoRepositories

    clear_tables()
    s3_client(moto_server.url).create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    settings = mediakit_settings().__class__.from_env(
        {},
        storage_backend="s3",
        s3_endpoint=moto_server.url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_region="us-east-1",
        assets_bucket=fresh_bucket_name,
        audio_pre_encode=False,
        job_runner="inline",
    )
    factory = CountingFactory(settings)
    astore = AsyncS3ObjectStore(bucket=fresh_bucket_name, open_client=factory)
    built = build_service(settings, repos=DjangoRepositories(), astore=astore)
    old = set_kit(built)
    try:
        yield built, factory
    finally:
        set_kit(old)
        built.close()


async def _lifespan(events: list[str]) -> list[dict[str, Any]]:
    """Run the handler's lifespan with ``events`` sent in order; return what it sent."""
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    for event in events:
        incoming.put_nowait({"type": event})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
    await asyncio.wait_for(MediakitASGIHandler()(scope, incoming.get, send), 30)
    return sent


def test_lifespan_startup_opens_the_async_client_and_shutdown_closes_it(
    s3_kit: tuple[MediaKit, CountingFactory],
) -> None:
    kit, factory = s3_kit
    assert factory.opened == 0
    sent = asyncio.run(_lifespan(["lifespan.startup", "lifespan.shutdown"]))
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert factory.opened == 1
    assert isinstance(kit.astore, AsyncS3ObjectStore)
    assert kit.astore._client is None  # closed on the loop that opened it


def test_a_failing_startup_is_reported_to_the_server(
    s3_kit: tuple[MediaKit, CountingFactory],
) -> None:
    from mediakit_django.kit import set_kit

    kit, _ = s3_kit
    # a store with neither a client nor a way to open one: astart() fails
    broken = build_service(
        kit.settings, repos=kit.repos, astore=AsyncS3ObjectStore(bucket="mk-none")
    )
    set_kit(broken)
    try:
        sent = asyncio.run(_lifespan(["lifespan.startup"]))
    finally:
        broken.close()
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "AsyncS3ObjectStore needs a client or open_client",
        }
    ]
