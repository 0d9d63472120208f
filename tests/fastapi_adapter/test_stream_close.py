"""The FastAPI adapter releases the store's stream as soon as a streamed response ends."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from mediakit.service import ServedObject
from mediakit_fastapi._routing import served as _served


class _Body:
    """An endless async body that records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return b"x" * 1024

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_client_that_goes_away_closes_the_body_without_waiting_for_gc() -> None:
    body = _Body()
    response = _served(ServedObject(status=200, headers={"content-type": "audio/mpeg"}, body=body))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) > 3:
            raise OSError("client went away")

    gc.disable()
    try:
        scope = {"type": "http", "asgi": {"spec_version": "2.4"}, "method": "GET", "headers": []}
        with contextlib.suppress(OSError, ClientDisconnect):
            await response(scope, receive, send)
        assert body.closed, "the store stream stays open until a GC run otherwise"
    finally:
        gc.enable()
