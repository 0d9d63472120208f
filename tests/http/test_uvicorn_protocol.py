"""mediakit.uvicorn: uvicorn's httptools protocol keeping the request body's pieces by
reference. A real uvicorn on 127.0.0.1 answers raw sockets; every request is also sent to
a uvicorn with its own httptools protocol, and both must see the same bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import IN_CI, _self_signed_cert, need

try:
    import httptools  # noqa: F401  (the protocol's parser)
    import uvicorn
except ImportError:  # a failure under CI=true, a skip that says what to install elsewhere
    if IN_CI:
        raise
    pytest.skip("pip install 'uvicorn[standard]'", allow_module_level=True)

from mediakit import uvicorn as mk_uvicorn


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


@attrs.frozen
class Endpoint:
    """A started uvicorn: its port, and the TLS context to reach it with (or None)."""

    port: int
    tls: ssl.SSLContext | None = None

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        return self.tls.wrap_socket(sock, server_hostname="127.0.0.1") if self.tls else sock


def _serve(http: Any, loop: str = "uvloop", tls_dir: Path | None = None) -> Iterator[Endpoint]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tls: dict[str, Any] = {}
    client_tls = None
    if tls_dir is not None:
        cert, key = _self_signed_cert(tls_dir)
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        client_tls = ssl.create_default_context(cafile=str(cert))
    config = uvicorn.Config(echo, log_level="warning", http=http, loop=loop, lifespan="on", **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield Endpoint(port, client_tls)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module", params=["uvloop", "asyncio", "uvloop+tls"])
def ours(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    """mediakit's protocol on uvloop, on asyncio's own loop, and on uvloop behind TLS
    (uvloop's TLS layer reads into the protocol's buffer too)."""
    need(
        mk_uvicorn.http_protocol() != "auto",
        "uvicorn's httptools protocol as mediakit.uvicorn expects",
    )
    loop, _, tls = request.param.partition("+")
    tls_dir = tmp_path_factory.mktemp("tls") if tls else None
    yield from _serve(mk_uvicorn.http_protocol(), loop, tls_dir)


@pytest.fixture(scope="module")
def theirs() -> Iterator[Endpoint]:
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
    server: Endpoint, pieces: list[bytes], *, path: str = "/", chunked: bool = False
) -> dict[str, Any]:
    body = b"".join(pieces)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    with server.connect() as sock:
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
    ours: Endpoint, theirs: Endpoint, sizes: list[int], seed: int, chunked: bool
) -> None:
    """Bodies of any size, sent in any pieces, with a length or chunked: the app reads
    exactly the bytes sent, as ``bytes``, on both protocols."""
    pieces = [
        bytes((seed + i + j) % 256 for j in range(min(n, 256))) * (n // 256) + b"x" * (n % 256)
        for i, n in enumerate(sizes)
    ]
    want = _expected(pieces)
    for server in (ours, theirs):
        got = _post(server, pieces, chunked=chunked)
        assert {k: got[k] for k in want} == want
        assert got["types"] == ["bytes"]


def test_a_slow_reader_pauses_the_socket_so_memory_stays_flat(ours: Endpoint) -> None:
    """16 MiB to an app that reads slowly: uvicorn's flow control still pauses reading, so
    no message carries more than what one pause lets through (far below the body)."""
    pieces = [bytes([i]) * (1 << 20) for i in range(16)]
    got = _post(ours, pieces, path="/slow")
    assert got["sha256"] == _expected(pieces)["sha256"]
    assert got["largest"] <= 1 << 20, got["largest"]


def test_pipelined_requests_on_one_connection_keep_their_own_bodies(ours: Endpoint) -> None:
    bodies = [b"A" * 200_000, b"", b"B" * 70_001, b"C" * 3]
    wire = b"".join(
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(b) + b for b in bodies
    )
    with ours.connect() as sock:
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


def test_expect_100_continue_is_answered_before_the_body(ours: Endpoint) -> None:
    body = b"z" * 100_000
    with ours.connect() as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
            % len(body)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        status, answer = _read_response(sock)
    assert status == 200
    assert answer["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_client_gone_mid_body_is_a_disconnect_to_the_app(ours: Endpoint) -> None:
    DISCONNECTS.clear()
    with ours.connect() as sock:
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


def test_concurrent_uploads_share_the_read_buffer_without_mixing(ours: Endpoint) -> None:
    """Eight connections sending at once, in small pieces: every read of every connection
    goes through the one read buffer of the loop's thread, and each body arrives intact."""

    def send(i: int) -> tuple[str, str]:
        pieces = [bytes([i, j % 256]) * 16_384 for j in range(64)]  # 2 MiB, 32 KiB pieces
        return _post(ours, pieces, path="/slow")["sha256"], _expected(pieces)["sha256"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    assert [got for got, _ in results] == [want for _, want in results]


def test_the_protocol_reads_into_its_buffer() -> None:
    """The loop reads into the thread's buffer (``asyncio.BufferedProtocol``) rather than
    making a ``bytes`` of each read; the buffer is one per thread."""
    need(
        mk_uvicorn.http_protocol() != "auto",
        "uvicorn's httptools protocol as mediakit.uvicorn expects",
    )
    cls = mk_uvicorn.http_protocol()
    assert isinstance(cls, type)
    assert issubclass(cls, asyncio.BufferedProtocol)
    # uvloop reads into a protocol's buffer only when it is no asyncio.Protocol
    assert not issubclass(cls, asyncio.Protocol)
    here = mk_uvicorn._READ_BUFFER.view()
    assert len(here) == mk_uvicorn.READ_BUFFER_SIZE
    assert mk_uvicorn._READ_BUFFER.view() is here
    elsewhere: list[memoryview] = []
    t = threading.Thread(target=lambda: elsewhere.append(mk_uvicorn._READ_BUFFER.view()))
    t.start()
    t.join()
    assert elsewhere[0] is not here


def test_every_loop_reads_into_the_buffer(ours: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvloop, asyncio's loop and uvloop's TLS layer all ask the protocol for its buffer
    (none makes a ``bytes`` of each read)."""
    asked: list[int] = []

    class Counting(mk_uvicorn._ReadBuffer):
        def view(self) -> memoryview:
            asked.append(1)
            return super().view()

    monkeypatch.setattr(mk_uvicorn, "_READ_BUFFER", Counting())
    body = [b"r" * 300_000]
    assert _post(ours, body)["sha256"] == _expected(body)["sha256"]
    assert asked
