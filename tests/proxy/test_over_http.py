"""The proxy over real HTTP: uvicorn (ASGI) and wsgiref (WSGI), memory store and S3 (moto),
driven by httpx and by raw sockets."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from mediakit.errors import StorageError
from mediakit.http import CONTENT_SECURITY_POLICY
from tests.proxy.apps import wait_until
from tests.proxy.conftest import BIG, TRACK, Target


def _client() -> httpx.Client:
    return httpx.Client(timeout=20)


def _check_safety_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["accept-ranges"] == "bytes"
    assert h["etag"].startswith('"')
    assert h["last-modified"].endswith(" GMT")
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert h["cache-control"].startswith("private")


def test_full_get(target: Target) -> None:
    """A plain GET streams the whole object with every safety header."""
    data = target.objects[TRACK]
    with _client() as client:
        r = client.get(target.media(TRACK))
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-type"] == "audio/mpeg"
    _check_safety_headers(r)
    assert wait_until(lambda: target.probe.open_streams == 0)


def test_audio_element_seek_pattern(target: Target) -> None:
    """bytes=0- first (read a little, drop it), then mid-file ranges, as <audio> does to seek."""
    data = target.objects[TRACK]
    size = len(data)
    with _client() as client:
        with client.stream("GET", target.media(TRACK), headers={"Range": "bytes=0-"}) as r:
            assert r.status_code == 206
            assert r.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
            assert r.headers["content-length"] == str(size)
            _check_safety_headers(r)
            first = next(r.iter_bytes(4096))
            assert data.startswith(first)
        etag = r.headers["etag"]
        for start in (size // 2, size - 1000, 777_777):
            r = client.get(
                target.media(TRACK), headers={"Range": f"bytes={start}-", "If-Range": etag}
            )
            assert r.status_code == 206
            assert r.headers["content-range"] == f"bytes {start}-{size - 1}/{size}"
            assert r.content == data[start:]
        r = client.get(target.media(TRACK), headers={"Range": "bytes=1000-1999"})
        assert (r.status_code, r.content) == (206, data[1000:2000])
        r = client.get(target.media(TRACK), headers={"Range": "bytes=-500"})
        assert (r.status_code, r.content) == (206, data[-500:])
    assert wait_until(lambda: target.probe.open_streams == 0)


def test_head(target: Target) -> None:
    """HEAD gives the GET headers and no body, and opens no store stream."""
    data = target.objects[TRACK]
    with _client() as client:
        r = client.head(target.media(TRACK))
        assert r.status_code == 200
        assert r.headers["content-length"] == str(len(data))
        assert r.content == b""
        _check_safety_headers(r)
        r = client.head(target.media(TRACK), headers={"Range": "bytes=10-19"})
        assert r.status_code == 206
        assert r.headers["content-length"] == "10"
    assert target.probe.opened == 0


def test_conditional_304_412_and_if_range(target: Target) -> None:
    """If-None-Match/If-Modified-Since give 304; If-Match mismatch 412; If-Range weak or stale 200."""
    data = target.objects[TRACK]
    with _client() as client:
        first = client.head(target.media(TRACK))
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        r = client.get(target.media(TRACK), headers={"If-None-Match": etag})
        assert (r.status_code, r.content) == (304, b"")
        assert r.headers["etag"] == etag
        r = client.get(target.media(TRACK), headers={"If-Modified-Since": modified})
        assert r.status_code == 304
        r = client.get(target.media(TRACK), headers={"If-Match": '"something-else"'})
        assert r.status_code == 412
        assert r.json()["error"]["code"] == "precondition_failed"
        r = client.get(target.media(TRACK), headers={"Range": "bytes=0-9", "If-Range": modified})
        assert (r.status_code, r.content) == (206, data[:10])
        r = client.get(target.media(TRACK), headers={"Range": "bytes=0-9", "If-Range": "W/" + etag})
        assert (r.status_code, len(r.content)) == (200, len(data))
        r = client.get(target.media(TRACK), headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
        assert r.status_code == 200
    assert wait_until(lambda: target.probe.open_streams == 0)


def test_416(target: Target) -> None:
    """A range past the end is a 416 with Content-Range bytes */N and the JSON error."""
    size = len(target.objects[TRACK])
    with _client() as client:
        r = client.get(target.media(TRACK), headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    assert r.json()["error"]["code"] == "range_not_satisfiable"
    _check_safety_headers(r)


def test_invalid_and_multi_ranges_get_the_full_body(target: Target) -> None:
    """Garbage, other units and far-apart multi-ranges are answered with the full 200."""
    data = target.objects[TRACK]
    with _client() as client:
        for value in ("bytes=garbage0-9garbage", "items=0-9", "bytes=0-9,500000-500009"):
            r = client.get(target.media(TRACK), headers={"Range": value})
            assert (r.status_code, len(r.content)) == (200, len(data)), value


def test_content_disposition_reaches_the_client(target: Target) -> None:
    """A download answer carries the RFC 6266/8187 Content-Disposition."""
    with _client() as client:
        r = client.head(target.media(TRACK) + "?download=1")
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"Cafe _live_.mp3\"; filename*=UTF-8''Caf%C3%A9%20%22live%22.mp3"
    )


def test_missing_object_is_404_json(target: Target) -> None:
    """A missing key is a 404 with the JSON error shape."""
    with _client() as client:
        r = client.get(target.media("music/nope/none.mp3"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "object_not_found"


def test_storage_failure_before_headers_is_502_or_503(target: Target) -> None:
    """A store failing on HEAD is a 502, before the first chunk a 503; both JSON, no stream left open."""
    with _client() as client:
        r = client.get(target.media("music/faulty/head.mp3"))
        assert r.status_code == 502
        assert r.json() == {
            "error": {
                "code": "storage_error",
                # the injected detail stays in the server log, clients get the public text
                "message": StorageError.public_message,
            }
        }
        r = client.get(target.media("music/faulty/first.mp3"))
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "storage_unavailable"
        assert r.headers["retry-after"] == "5"
    assert wait_until(lambda: target.probe.open_streams == 0)


@pytest.mark.parametrize("key", ["music/faulty/mid.mp3", "music/faulty/short.mp3"])
def test_failure_mid_body_aborts_the_connection(target: Target, key: str) -> None:
    """A fault (or a short store stream) after headers aborts: httpx sees an incomplete body."""
    with _client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(target.media(key))
    assert wait_until(lambda: target.probe.open_streams == 0)


def _raw_request(target: Target, request: bytes) -> socket.socket:
    parts = urlsplit(target.url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=20)
    sock.sendall(request)
    return sock


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def test_raw_socket_failure_mid_body_is_an_incomplete_read(target: Target) -> None:
    """On the wire: the connection closes before Content-Length bytes arrived."""
    sock = _raw_request(
        target, b"GET /media/music/faulty/mid.mp3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with sock:
        head, body = _read_head(sock)
        assert head.startswith(b"HTTP/1.")
        assert b" 200 " in head.split(b"\r\n")[0]
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while chunk := sock.recv(65536):
            body += chunk
    assert len(body) < length


def test_raw_socket_seek_pattern(target: Target) -> None:
    """A raw HTTP/1.1 client sees the exact 206 bytes for open-ended and mid-file ranges."""
    data = target.objects[TRACK]
    for start in (0, len(data) // 3):
        sock = _raw_request(
            target,
            f"GET /media/{TRACK} HTTP/1.1\r\nHost: x\r\nRange: bytes={start}-\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        with sock:
            head, body = _read_head(sock)
            while chunk := sock.recv(65536):
                body += chunk
        assert b" 206 " in head.split(b"\r\n")[0]
        assert f"content-range: bytes {start}-{len(data) - 1}/{len(data)}".encode() in head.lower()
        assert body == data[start:]


def test_client_disconnect_closes_the_store_stream(target: Target) -> None:
    """A client dropping mid-stream makes the server close the store stream, unread to the end."""
    size = len(target.objects[BIG])
    sock = _raw_request(target, f"GET /media/{BIG} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head, _body = _read_head(sock)
    assert b" 200 " in head.split(b"\r\n")[0]
    assert wait_until(lambda: target.probe.open_streams == 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST: the client is gone
    assert wait_until(lambda: target.probe.open_streams == 0), "store stream left open"
    assert target.probe.bytes_read.get(BIG, 0) < size


def test_httpx_client_closing_early_closes_the_store_stream(target: Target) -> None:
    """httpx closing a streamed response early releases the store stream too."""
    with _client() as client:
        with client.stream("GET", target.media(BIG), headers={"Range": "bytes=0-"}) as r:
            assert r.status_code == 206
            next(r.iter_raw(65536))
        assert wait_until(lambda: target.probe.open_streams == 0), "store stream left open"
    assert target.probe.bytes_read.get(BIG, 0) < len(target.objects[BIG])


def _one_trip(target: Target) -> bool:
    return "headfirst" not in target.kind


@pytest.mark.parametrize(
    "range_value", [None, "bytes=0-", "bytes=700000-", "bytes=1000-1999", "bytes=1000-99999999"]
)
def test_plain_and_one_range_gets_need_no_head(target: Target, range_value: str | None) -> None:
    """A plain GET or a one-range GET (what <audio> sends) is one store request when the
    store can open a range; a store without ``open_range`` is HEADed first."""
    data = target.objects[TRACK]
    headers = {} if range_value is None else {"Range": range_value}
    with _client() as client:
        r = client.get(target.media(TRACK), headers=headers)
    assert r.status_code == (200 if range_value is None else 206)
    if range_value is None:
        assert r.content == data
    else:
        first, _, last = range_value.removeprefix("bytes=").partition("-")
        end = len(data) if not last else min(int(last) + 1, len(data))
        assert r.content == data[int(first) : end]
        assert r.headers["content-range"] == f"bytes {first}-{end - 1}/{len(data)}"
    _check_safety_headers(r)
    assert target.probe.heads == (0 if _one_trip(target) else 1)
    assert target.probe.opened == 1
    assert wait_until(lambda: target.probe.open_streams == 0)


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=-500"},  # suffix: needs the size first
        {"Range": "bytes=0-9,20-29"},  # several ranges (coalesced here)
        {"If-None-Match": '"nope"'},  # conditional: may be a 304
        {"Range": "bytes=0-9", "If-Range": '"stale"'},
    ],
)
def test_requests_that_depend_on_the_object_head_first(
    target: Target, headers: dict[str, str]
) -> None:
    """Suffix, multi-range and conditional GETs are planned from a HEAD, then one GET."""
    with _client() as client:
        r = client.get(target.media(TRACK), headers=headers)
    assert r.status_code in (200, 206)
    assert (target.probe.heads, target.probe.opened) == (1, 1)


def test_a_range_past_the_end_falls_back_to_head_for_the_416(target: Target) -> None:
    """The one-trip GET of a range past the end fails (416, or a 400 on some servers):
    the proxy HEADs and answers the 416 itself, with no stream left open."""
    size = len(target.objects[TRACK])
    with _client() as client:
        r = client.get(target.media(TRACK), headers={"Range": f"bytes={size + 5}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    assert target.probe.heads == 1
    assert wait_until(lambda: target.probe.open_streams == 0)


def test_head_and_conditional_304_read_no_bytes(target: Target) -> None:
    """HEAD and a 304 are answered from a HEAD alone: no GET is opened."""
    with _client() as client:
        etag = client.head(target.media(TRACK)).headers["etag"]
        r = client.get(target.media(TRACK), headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert (target.probe.heads, target.probe.opened) == (2, 0)
