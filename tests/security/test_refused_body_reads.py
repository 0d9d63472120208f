"""Django under WSGI: a refused upload is read no further than the cap plus one chunk,
whatever the reason (401, 403, 404, 413, 415, 429).

Black box over a raw socket against the reference project under gunicorn: a client streams
an endless chunked upload as fast as the server takes it, and counts the bytes it managed to
send before the server answered and stopped reading. Those bytes are what the server read
plus what the kernel buffers on the way hold (the server's receive buffer, our small send
buffer), so the bound checked is the server's read bound plus that slack. (Before the fix, a
403 read 64 MiB.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import attrs
import httpx
import pytest

from tests import servers
from tests.http_contract.conftest import SERVER_KINDS
from tests.http_contract.harness import ADMIN_TOKEN, USER_TOKEN, Api, client, start_server
from tests.media_samples import padded_jpeg

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
CAP = 16 * MiB
"""MEDIA_MAX_UPLOAD_SIZE_TOTAL (and MEDIA_MAX_FILE_SIZE) of the servers here."""
CHUNK = 1024 * 1024
"""The adapters' read size: the bar is the cap plus one chunk."""
DRAIN = 4 * MiB
"""What the Django views read of a refused body at most, so small clients see the error."""
SEND_BUFFER = 64 * 1024
SLACK = 16 * MiB
"""Bytes the kernel may hold between our socket and the server's reads (receive buffer)."""
GUNICORN_DRAIN = 64 * 1024
BOUNDARY = "refused-boundary"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The Django reference project under gunicorn, with a 16 MiB request cap and one
    upload per admin at a time."""
    name = "django-wsgi"
    extra = {
        "MEDIAKIT_DJANGO_SERVER": "wsgi",
        "MEDIA_MAX_UPLOAD_SIZE_TOTAL": str(CAP),
        "MEDIA_MAX_FILE_SIZE": str(CAP),
        "MEDIA_MAX_CONCURRENT_UPLOADS": "1",
    }
    tmp = tmp_path_factory.mktemp(f"refused-{name}")
    proc, base_url, env_, log_path = start_server(SERVER_KINDS["django-sqlite"], name, tmp, extra)
    clients = [client(base_url, t) for t in (ADMIN_TOKEN, USER_TOKEN, None)]
    try:
        yield Api(name, base_url, env_, log_path, *clients, httpx.Client())
    finally:
        for c in clients:
            c.close()
        servers.stop_process(proc)


@attrs.define
class Outcome:
    """What a streamed upload came to."""

    status: int
    body: bytes
    sent: int
    """Body bytes (chunk framing excluded) the kernel accepted from us."""


def _head(path: str, token: str | None, content_type: str) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()


def _multipart_start() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + padded_jpeg(64 * 1024)


def stream_upload(
    api: Api,
    path: str,
    token: str | None,
    *,
    content_type: str = f"multipart/form-data; boundary={BOUNDARY}",
    limit: int = 256 * MiB,
    stall: float = 3.0,
) -> Outcome:
    """POST an endless chunked body; stop once the server answered and stopped reading
    (a send blocked for ``stall`` seconds), or closed, or after ``limit`` bytes."""
    url = httpx.URL(api.base_url)
    assert url.port is not None
    sock = socket.create_connection((url.host, url.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    sent = 0
    done = threading.Event()
    filler = b"\0" * CHUNK
    frame = f"{len(filler):x}\r\n".encode() + filler + b"\r\n"

    def send() -> None:
        nonlocal sent
        try:
            sock.sendall(_head(path, token, content_type))
            first = _multipart_start()
            sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
            sent += len(first)
            sock.settimeout(stall)
            while sent < limit and not done.is_set():
                sock.sendall(frame)
                sent += len(filler)
        except OSError:  # a timeout (the server stopped reading), a reset or a close
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    response = b""
    reader = sock.dup()
    reader.settimeout(60)
    try:
        while b"\r\n\r\n" not in response:
            data = reader.recv(65536)
            if not data:
                break
            response += data
        head, _, body = response.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            data = reader.recv(65536)
            if not data:
                break
            body += data
        sender.join(timeout=stall + 60)
    finally:
        done.set()
        reader.close()
        sock.close()
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return Outcome(int(response.split(b" ", 2)[1]), body, sent)


def _set(api: Api) -> str:
    r = api.admin.post("/api/v1/admin/music-sets", json={"title": "s"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


UPLOAD = "/api/v1/admin/images/upload"


def _check(out: Outcome, status: int, bound: int) -> None:
    print(
        f"{status}: the client sent {out.sent / MiB:.1f} MiB (bound {bound / MiB:.0f} MiB + slack)"
    )
    assert out.status == status, out.body[:300]
    assert out.sent <= bound + GUNICORN_DRAIN + SLACK, f"sent {out.sent / MiB:.1f} MiB"


def test_a_user_token_upload_is_refused_without_reading_the_body(server: Api) -> None:
    """403 for a user token: at most 4 MiB of the body is read (was: 64 MiB)."""
    _check(stream_upload(server, UPLOAD, USER_TOKEN), 403, DRAIN)


def test_an_anonymous_upload_is_refused_without_reading_the_body(server: Api) -> None:
    """401 without a token: at most 4 MiB of the body is read."""
    _check(stream_upload(server, UPLOAD, None), 401, DRAIN)


def test_an_upload_to_an_unknown_set_is_refused_without_reading_the_body(server: Api) -> None:
    """404 for tracks of a set that does not exist."""
    out = stream_upload(server, "/api/v1/admin/music-sets/nope/tracks", ADMIN_TOKEN)
    _check(out, 404, DRAIN)


def test_a_non_multipart_upload_is_refused_without_reading_the_body(server: Api) -> None:
    """415 for a body that is not multipart/form-data."""
    out = stream_upload(server, UPLOAD, ADMIN_TOKEN, content_type="application/octet-stream")
    assert out.status in (415, 400), out.body[:300]
    _check(out, out.status, DRAIN)


def test_an_upload_over_the_cap_is_read_to_the_cap_plus_one_chunk(server: Api) -> None:
    """413 for an admin over the cap: the server reads the cap and at most one chunk more."""
    _check(stream_upload(server, UPLOAD, ADMIN_TOKEN), 413, CAP + CHUNK)


def test_a_second_concurrent_upload_is_refused_without_reading_its_body(server: Api) -> None:
    """429 while the admin's one allowed upload is in flight: the second body is not read."""
    url = httpx.URL(server.base_url)
    assert url.port is not None
    with socket.create_connection((url.host, url.port), timeout=30) as first:
        first.sendall(_head(UPLOAD, ADMIN_TOKEN, f"multipart/form-data; boundary={BOUNDARY}"))
        start = _multipart_start()
        first.sendall(f"{len(start):x}\r\n".encode() + start + b"\r\n")
        time.sleep(1.5)  # the first upload holds the admin's one slot, waiting for more bytes
        out = stream_upload(server, UPLOAD, ADMIN_TOKEN)
    _check(out, 429, DRAIN)
