"""mediakit.uvicorn: uvicorn's httptools protocol keeping the request body's pieces by
reference. A real uvicorn on 127.0.0.1 answers raw sockets; every request is also sent to
a uvicorn with its own httptools protocol, and both must see the same bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import need

httptools = pytest.importorskip("httptools", reason="pip install 'uvicorn[standard]'")
uvicorn = pytest.importorskip("uvicorn", reason="pip install 'uvicorn[standard]'")

from mediakit import uvicorn as mk_uvicorn  # noqa: E402


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body (slowly when the path is /slow) and answers what it saw."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    digest, sizes, types = hashlib.sha256(), [], set()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            DISCONNECTS.append(scope["path"])
            return
        body = message["body"]
        types.add(type(body).__name__)
        digest.update(body)
        sizes.append(len(body))
        if scope["path"] == "/slow":
            await asyncio.sleep(0.002)
        if not message.get("more_body"):
            break
    answer = json.dumps(
        {
            "sha256": digest.hexdigest(),
            "size": sum(sizes),
            "largest": max(sizes),
            "types": sorted(types),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(answer)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})


DISCONNECTS: list[str] = []


def _serve(http: Any) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(echo, log_level="warning", http=http, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def ours() -> Iterator[int]:
    need(
        mk_uvicorn.http_protocol() != "auto",
        "uvicorn's httptools protocol as mediakit.uvicorn expects",
    )
    yield from _serve(mk_uvicorn.http_protocol())


@pytest.fixture(scope="module")
def theirs() -> Iterator[int]:
    yield from _serve("httptools")


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        assert got, f"connection closed before the response head: {data!r}"
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(v)
        for k, _, v in (ln.partition(":") for ln in lines[1:])
        if k.lower() == "content-length"
    )
    while len(rest) < length:
        got = sock.recv(65536)
        assert got
        rest += got
    return status, json.loads(rest[:length])


def _post(
    port: int, pieces: list[bytes], *, path: str = "/", chunked: bool = False
) -> dict[str, Any]:
    body = b"".join(pieces)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n".encode())
        for piece in pieces:
            if chunked:
                if piece:
                    sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                sock.sendall(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        status, answer = _read_response(sock)
    assert status == 200
    return answer


def _expected(pieces: list[bytes]) -> dict[str, Any]:
    body = b"".join(pieces)
    return {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}


def test_the_protocol_is_chosen_and_named_on_the_command_line() -> None:
    """``--http mediakit.uvicorn:HttpToolsProtocol`` loads the class http_protocol() gives."""
    need(
        mk_uvicorn.http_protocol() != "auto",
        "uvicorn's httptools protocol as mediakit.uvicorn expects",
    )
    config = uvicorn.Config(echo, http="mediakit.uvicorn:HttpToolsProtocol")
    config.load()
    assert config.http_protocol_class is mk_uvicorn.http_protocol()
    assert issubclass(
        config.http_protocol_class, uvicorn.protocols.http.httptools_impl.HttpToolsProtocol
    )


def test_one_piece_is_handed_on_as_it_is_and_several_are_joined_once() -> None:
    pieces = mk_uvicorn.BodyPieces()
    first = b"a" * 70_000
    pieces.append(first)
    assert len(pieces) == 70_000
    assert bytes(pieces) is first  # no copy of a lone piece
    pieces.append(b"bc")
    assert bytes(pieces) == first + b"bc"
    assert len(pieces) == 70_002
    assert bytes(mk_uvicorn.BodyPieces()) == b""


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(0, 300_000), min_size=0, max_size=6),
    seed=st.integers(0, 255),
    chunked=st.booleans(),
)
def test_any_body_arrives_whole_and_as_bytes(
    ours: int, theirs: int, sizes: list[int], seed: int, chunked: bool
) -> None:
    """Bodies of any size, sent in any pieces, with a length or chunked: the app reads
    exactly the bytes sent, as ``bytes``, on both protocols."""
    pieces = [
        bytes((seed + i + j) % 256 for j in range(min(n, 256))) * (n // 256) + b"x" * (n % 256)
        for i, n in enumerate(sizes)
    ]
    want = _expected(pieces)
    for port in (ours, theirs):
        got = _post(port, pieces, chunked=chunked)
        assert {k: got[k] for k in want} == want
        assert got["types"] == ["bytes"]


def test_a_slow_reader_pauses_the_socket_so_memory_stays_flat(ours: int) -> None:
    """16 MiB to an app that reads slowly: uvicorn's flow control still pauses reading, so
    no message carries more than what one pause lets through (far below the body)."""
    pieces = [bytes([i]) * (1 << 20) for i in range(16)]
    got = _post(ours, pieces, path="/slow")
    assert got["sha256"] == _expected(pieces)["sha256"]
    assert got["largest"] <= 1 << 20, got["largest"]


def test_pipelined_requests_on_one_connection_keep_their_own_bodies(ours: int) -> None:
    bodies = [b"A" * 200_000, b"", b"B" * 70_001, b"C" * 3]
    wire = b"".join(
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(b) + b for b in bodies
    )
    with socket.create_connection(("127.0.0.1", ours), timeout=30) as sock:
        sock.sendall(wire)
        answers = []
        buffered = b""
        for _ in bodies:
            # read one response at a time from the stream
            while True:
                head_end = buffered.find(b"\r\n\r\n")
                if head_end >= 0:
                    head = buffered[:head_end].decode("latin-1")
                    length = int(head.lower().split("content-length:")[1].split("\r\n")[0])
                    if len(buffered) >= head_end + 4 + length:
                        answers.append(json.loads(buffered[head_end + 4 : head_end + 4 + length]))
                        buffered = buffered[head_end + 4 + length :]
                        break
                got = sock.recv(65536)
                assert got
                buffered += got
    assert [a["sha256"] for a in answers] == [hashlib.sha256(b).hexdigest() for b in bodies]


def test_expect_100_continue_is_answered_before_the_body(ours: int) -> None:
    body = b"z" * 100_000
    with socket.create_connection(("127.0.0.1", ours), timeout=30) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
            % len(body)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        status, answer = _read_response(sock)
    assert status == 200
    assert answer["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_client_gone_mid_body_is_a_disconnect_to_the_app(ours: int) -> None:
    with socket.create_connection(("127.0.0.1", ours), timeout=30) as sock:
        sock.sendall(
            b"POST /gone HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"q" * 300_000
        )
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while "/gone" not in DISCONNECTS:
        assert time.monotonic() < deadline, "the app never saw http.disconnect"
        time.sleep(0.02)
    # and the server still answers
    assert _post(ours, [b"after"])["size"] == 5


def test_an_unexpected_uvicorn_falls_back_to_its_own_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A uvicorn whose httptools protocol changed how it keeps the body: http_protocol()
    answers ``"auto"`` and naming the class explains what to run instead."""
    mk_uvicorn.http_protocol.cache_clear()
    monkeypatch.setattr(
        mk_uvicorn.inspect, "getsource", lambda obj: "def on_body(self, body): pass"
    )
    try:
        assert mk_uvicorn.http_protocol() == "auto"
        with pytest.raises(ImportError, match="--http httptools"):
            mk_uvicorn.HttpToolsProtocol  # noqa: B018
    finally:
        mk_uvicorn.http_protocol.cache_clear()
