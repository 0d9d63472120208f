"""MediakitASGIHandler: uploads reach the view while the body is still arriving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mediakit.service import MediaKit
from tests.django.support import ADMIN_TOKEN, ensure_django
from tests.fixtures_media import jpeg_bytes

ensure_django()

from mediakit_django.asgi import MediakitASGIHandler  # noqa: E402

BOUNDARY = "mkboundary42"


def _multipart(files: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, data in files:
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


def _scope(path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {ADMIN_TOKEN}".encode()),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def _run(path: str, body: bytes, pieces: int, disconnect_after: int | None = None) -> Any:
    """Send ``body`` in ``pieces`` messages; record which messages the app read before
    it started answering."""
    handler = MediakitASGIHandler()
    size = -(-len(body) // pieces)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[i : i + size], "more_body": i + size < len(body)}
        for i in range(0, len(body), size)
    ]
    if disconnect_after is not None:
        messages = [*messages[:disconnect_after], {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []
    reads = 0
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal reads
        if reads < len(messages):
            reads += 1
            await asyncio.sleep(0)
            return messages[reads - 1]
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    await asyncio.wait_for(handler(_scope(path, body), receive, send), 30)
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(payload) if payload else None


def test_a_streamed_upload_arriving_in_pieces_is_stored(kit: MediaKit) -> None:
    """The body arrives in many ASGI messages and is parsed as it comes: 201."""
    jpeg = jpeg_bytes(64, 48)
    status, payload = asyncio.run(
        _run("/async/api/v1/admin/images/upload", _multipart([("a.jpg", jpeg)]), pieces=7)
    )
    assert status == 201, payload
    assert payload["items"][0]["size"] == len(jpeg)


def test_a_client_disconnecting_mid_upload_stores_nothing(kit: MediaKit) -> None:
    """A disconnect during the body ends the upload; no row is left behind."""
    body = _multipart([("a.jpg", jpeg_bytes(64, 48)), ("b.jpg", jpeg_bytes(64, 48))])
    asyncio.run(_run("/async/api/v1/admin/images/upload", body, pieces=6, disconnect_after=3))
    assert kit.repos.images.list(visible_only=False).items == []


def test_a_refused_upload_answers_before_the_body_is_read(kit: MediaKit) -> None:
    """Without credentials the upload is refused (401) at once: the handler does not wait
    for a body that never comes (Django's own handler would, spooling it first)."""
    body = _multipart([("a.jpg", jpeg_bytes(64, 48))])
    handler = MediakitASGIHandler()
    scope = _scope("/async/api/v1/admin/images/upload", body)
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await done.wait()  # the body never comes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    asyncio.run(asyncio.wait_for(handler(scope, receive, send), 10))
    assert sent[0]["status"] == 401
