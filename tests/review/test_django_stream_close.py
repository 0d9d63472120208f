"""The Django views release the store stream when a client leaves, sync and async alike.

The sync view's body (:class:`mediakit.proxy.ProxyResponse`) has ``close()``, which
Django registers and calls when the WSGI server closes the response. The async body has
only ``aclose()``, which Django never calls: before the fix, a client disconnecting from
an ASGI stream left the S3 stream (and its pooled connection) open until the garbage
collector found it. These tests run Django's real handlers with the collector off.
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mediakit.service import AsyncMediaService, MediaKit, MediaService, build_service
from tests.django.support import ADMIN_TOKEN, USER_TOKEN, clear_tables, ensure_django
from tests.fixtures_media import jpeg_bytes
from tests.proxy.apps import Probe, ProbedAsyncStore, ProbedStore

ensure_django()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import Client  # noqa: E402

from mediakit_django.asgi import MediakitASGIHandler  # noqa: E402

BIG = jpeg_bytes(64, 48) + b"\0" * (1024 * 1024)  # several proxy chunks after the JPEG


@attrs.frozen
class Probed:
    """A kit whose services read through probed stores, and the id of a large image."""

    kit: MediaKit
    probe: Probe
    image_id: str


@pytest.fixture
def probed() -> Iterator[Probed]:
    """A Django kit (ORM, memory store) whose stores count open ``get_range`` streams."""
    from mediakit_django.conf import mediakit_settings
    from mediakit_django.kit import set_kit
    from mediakit_django.repositories import DjangoRepositories

    clear_tables()
    base = build_service(mediakit_settings(), repos=DjangoRepositories(), prefix="")
    probe = Probe()
    store, astore = ProbedStore(base.store, probe), ProbedAsyncStore(base.astore, probe)
    s, a = base.service, base.aservice
    service = MediaService(
        settings=s.settings,
        store=store,  # type: ignore[arg-type]
        repos=s.repos,
        signer=s.signer,
        limiter=s.limiter,
        runner=s.runner,
        clock=s.clock,
        local=s.local,
        proxy_base=s.proxy_base,
        info_cache=s.info_cache,
    )
    aservice = AsyncMediaService(
        settings=a.settings,
        store=astore,  # type: ignore[arg-type]
        repos=a.repos,
        signer=a.signer,
        limiter=a.limiter,
        runner=a.runner,
        clock=a.clock,
        local=a.local,
        proxy_base=a.proxy_base,
        info_cache=a.info_cache,
    )
    kit = attrs.evolve(base, service=service, aservice=aservice)
    old = set_kit(kit)
    try:
        r = Client().post(
            "/api/v1/admin/images/upload",
            {"files": [SimpleUploadedFile("big.jpg", BIG, "image/jpeg")], "visible": "true"},
            HTTP_AUTHORIZATION=f"Bearer {ADMIN_TOKEN}",
        )
        assert r.status_code == 201, r.content
        image_id = r.json()["items"][0]["id"]
        probe.faults[f"images/{image_id}/original"] = "slow"
        yield Probed(kit, probe, image_id)
    finally:
        set_kit(old)
        base.close()


def _path(image_id: str, prefix: str = "") -> str:
    return f"{prefix}/api/v1/user/media/{image_id}/stream"


def test_sync_view_closes_the_store_stream_when_the_server_closes_the_response(
    probed: Probed,
) -> None:
    """WSGI: the server calls ``close()`` after one chunk; the store stream is closed."""
    path = _path(probed.image_id)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Bearer {USER_TOKEN}",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    gc.disable()
    try:
        result = WSGIHandler()(environ, start_response)
        first = next(iter(result))
        assert probed.probe.open_streams == 1
        result.close()  # what a WSGI server does when the client is gone
        assert probed.probe.open_streams == 0, "store stream left open"
    finally:
        gc.enable()
    assert statuses[0].startswith("200")
    assert first
    assert len(first) < len(BIG)


def test_async_view_closes_the_store_stream_when_the_client_disconnects(
    probed: Probed,
) -> None:
    """ASGI: the client disconnects after the first body message; by the time Django's
    handler returns, the store stream is closed (not left to the garbage collector)."""
    path = _path(probed.image_id, "/async")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {USER_TOKEN}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent: list[Mapping[str, Any]] = []

    async def run() -> int:
        got_body = asyncio.Event()
        calls = 0

        async def receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if calls == 1:
                return {"type": "http.request", "body": b"", "more_body": False}
            await got_body.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                got_body.set()
                await asyncio.sleep(0.01)  # a slow client: the disconnect comes first

        await asyncio.wait_for(MediakitASGIHandler()(scope, receive, send), 30)
        return probed.probe.open_streams

    gc.disable()
    try:
        open_after = asyncio.run(run())
    finally:
        gc.enable()
    assert sent[0]["status"] == 200
    assert open_after == 0, "store stream left open after the client disconnected"
    key = f"images/{probed.image_id}/original"
    assert probed.probe.bytes_read[key] < len(BIG)


def test_closing_an_async_response_on_the_event_loop_closes_the_store_stream(
    probed: Probed,
) -> None:
    """Django's async test client closes responses on the event loop thread itself
    (not from a worker thread): the store stream is released there too."""
    from django.test import AsyncClient

    async def run() -> int:
        r: Any = await AsyncClient().get(
            _path(probed.image_id, "/async"), headers={"Authorization": f"Bearer {USER_TOKEN}"}
        )
        first = await anext(aiter(r.streaming_content))
        assert first
        r.close()  # on the loop thread, as the test client's closing wrapper does
        for _ in range(10):
            await asyncio.sleep(0)
        return probed.probe.open_streams

    gc.disable()
    try:
        assert asyncio.run(run()) == 0, "store stream left open"
    finally:
        gc.enable()
