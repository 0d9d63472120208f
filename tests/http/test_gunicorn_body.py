"""mediakit.gunicorn: a request body read straight off gunicorn's socket.

Two levels, both with gunicorn's own classes and real sockets:
- its ``Body``/``LengthReader``/``SocketUnreader`` over a socket pair, with bytes already
  read ahead into gunicorn's buffers (the request head's read brings some of the body,
  and of a pipelined next request): property-tested for every split and read size;
- a real gunicorn serving an app that reads with it: uploads of several sizes, and
  requests pipelined on one keep-alive connection (each body read exactly, the next
  request parsed where the body ends).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediakit import gunicorn as mk_gunicorn
from tests import servers
from tests.servers import IN_CI

try:
    import gunicorn.http.body as body_module
    from gunicorn.http.unreader import IterUnreader, SocketUnreader
except ImportError:  # a failure under CI=true, a skip that says what to install elsewhere
    if IN_CI:
        raise
    pytest.skip("pip install gunicorn", allow_module_level=True)

Body = body_module.Body
LengthReader = body_module.LengthReader
ChunkedReader = body_module.ChunkedReader
EOFReader = body_module.EOFReader

ROOT = Path(__file__).resolve().parents[2]


def _gunicorn_body(
    sock: socket.socket, length: int, read_ahead: bytes = b"", held: bytes = b""
) -> object:
    """gunicorn's ``wsgi.input`` for a body of ``length`` bytes on ``sock``: ``read_ahead``
    sits in the socket reader's buffer (as after reading the request head) and ``held``
    in the Body's (bytes a previous ``Body.read`` took and kept)."""
    unreader = SocketUnreader(sock)
    if read_ahead:
        unreader.unread(read_ahead)
    reader = LengthReader(unreader, length - len(held))
    body = Body(reader)
    body.buf.write(held)
    return body


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def _send_later(sock: socket.socket, data: bytes, close: bool = False) -> threading.Thread:
    def send() -> None:
        sock.sendall(data)
        if close:
            sock.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(min_size=0, max_size=300_000),
    ahead=st.integers(0, 400_000),
    held=st.integers(0, 50_000),
    sizes=st.lists(st.integers(1, 200_000), min_size=1, max_size=6),
    mixed=st.booleans(),
    following=st.binary(min_size=0, max_size=64),
)
def test_reads_exactly_the_body_whatever_gunicorn_holds(
    body: bytes, ahead: int, held: int, sizes: list[int], mixed: bool, following: bytes
) -> None:
    """Whatever gunicorn's buffers hold (part of the body, all of it, and the start of
    the next request), reads of any sizes, mixed with reads through ``wsgi.input`` or
    not, give exactly the body; gunicorn's count ends at 0 and the next request's bytes
    are still in its buffer, where its parser will look."""
    held = min(held, len(body))
    stream = body[held:] + following
    ahead = min(ahead, len(stream))
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(10)  # a reader waiting for bytes that are not the body's fails
        wsgi_input = _gunicorn_body(b, len(body), stream[:ahead], body[:held])
        sender = _send_later(a, stream[ahead:], close=True)
        read = mk_gunicorn.body_reader(wsgi_input)
        assert read is not None
        got = bytearray()
        i = 0
        while True:
            size = sizes[i % len(sizes)]
            chunk = (wsgi_input.read if mixed and i % 2 else read)(size)  # type: ignore[attr-defined]
            i += 1
            if not chunk:
                break
            assert len(chunk) <= size
            got += chunk
        sender.join()
        assert bytes(got) == body
        assert wsgi_input.reader.length == 0  # type: ignore[attr-defined]
        # the next request: what was read ahead of it, then what is still on the socket
        rest = wsgi_input.reader.unreader.buf.getvalue()  # type: ignore[attr-defined]
        while data := b.recv(65536):  # the sender closed: up to the end
            rest += data
        assert rest == following


def test_a_client_closing_early_ends_the_body(pair: tuple[socket.socket, socket.socket]) -> None:
    """A body cut short by the client ends with ``b""`` (the caller sees a short body)
    instead of waiting for bytes that will not come."""
    a, b = pair
    wsgi_input = _gunicorn_body(b, 1000)
    _send_later(a, b"x" * 300, close=True).join()
    read = mk_gunicorn.body_reader(wsgi_input)
    assert read is not None
    got = b""
    while chunk := read(4096):
        got += chunk
    assert got == b"x" * 300


def test_a_socket_error_marks_the_body_failed(pair: tuple[socket.socket, socket.socket]) -> None:
    """A read that fails (here the socket's timeout) raises as through ``wsgi.input``,
    and the body is marked failed, as gunicorn's own reads mark it, so gunicorn closes
    the connection instead of parsing the rest of the body as a request."""
    _, b = pair
    b.settimeout(0.05)
    wsgi_input = _gunicorn_body(b, 1000)
    read = mk_gunicorn.body_reader(wsgi_input)
    assert read is not None
    with pytest.raises(TimeoutError):
        read(100)
    assert wsgi_input.failed is True  # type: ignore[attr-defined]


def test_other_bodies_are_left_to_wsgi_input(pair: tuple[socket.socket, socket.socket]) -> None:
    """Only gunicorn's Content-Length body over its socket reader is read directly:
    a chunked body, a body read to EOF, one over another reader, and anything that
    is not gunicorn's get ``None``."""
    _, b = pair
    assert mk_gunicorn.body_reader(Body(ChunkedReader(None, SocketUnreader(b)))) is None
    assert mk_gunicorn.body_reader(Body(EOFReader(SocketUnreader(b)))) is None
    assert mk_gunicorn.body_reader(Body(LengthReader(IterUnreader([b"abc"]), 3))) is None
    assert mk_gunicorn.body_reader(io.BytesIO(b"abc")) is None
    assert mk_gunicorn.body_reader(None) is None

    class NotGunicorns(Body):  # type: ignore[misc,valid-type]
        pass

    assert mk_gunicorn.body_reader(NotGunicorns(LengthReader(SocketUnreader(b), 3))) is None
    changed = _gunicorn_body(b, 3)
    changed.reader.length = "3"  # type: ignore[attr-defined]  # a shape it does not know
    assert mk_gunicorn.body_reader(changed) is None


def test_nothing_when_gunicorn_is_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without gunicorn imported (another server), the answer is ``None`` without
    importing it."""
    monkeypatch.delitem(sys.modules, "gunicorn.http.body")
    assert mk_gunicorn.body_reader(object()) is None
    assert "gunicorn.http.body" not in sys.modules


# --------------------------------------------------------------------------- real gunicorn


@pytest.fixture(scope="module")
def echo_server() -> Iterator[int]:
    exe = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    servers.need(Path(exe).exists(), "gunicorn is not installed: pip install gunicorn")
    port = servers.free_port()
    proc = servers._spawn(
        [
            exe,
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--workers",
            "1",
            "--keep-alive",
            "30",
            "tests.http.gunicorn_echo:app",
        ],
        cwd=str(ROOT),
        env={"PYTHONPATH": str(ROOT)},
    )
    try:
        servers.wait_for_port(port, proc)
        yield port
    finally:
        servers.stop_process(proc)


def _request(body: bytes, sizes: str = "65536", mixed: bool = False) -> bytes:
    head = (
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(body)}\r\nX-Read-Sizes: {sizes}\r\n"
        f"X-Mixed: {int(mixed)}\r\n\r\n"
    )
    return head.encode() + body


def _answers(sock: socket.socket, count: int) -> list[dict[str, object]]:
    """``count`` HTTP answers read off ``sock`` (each with a Content-Length)."""
    data = b""
    out: list[dict[str, object]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, f"the server closed after {len(out)} answers"
            data += more
        head, _, data = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(data) < length:
            data += sock.recv(65536)
        out.append(json.loads(data[:length]))
        data = data[length:]
    return out


@pytest.mark.parametrize(
    ("size", "sizes", "mixed"),
    [
        (0, "65536", False),
        (1, "1", False),
        (300_000, "1048576", False),
        (8 * 1024 * 1024 + 17, "1048576", False),
        (3 * 1024 * 1024, "1000,65536,1048576", True),
    ],
)
def test_gunicorn_serves_bodies_read_directly(
    echo_server: int, size: int, sizes: str, mixed: bool
) -> None:
    """Under a real gunicorn the app gets the direct reader, and reads every byte of
    bodies from empty to 8 MiB, in any read sizes, mixed with ``wsgi.input`` or not."""
    body = os.urandom(size)
    with socket.create_connection(("127.0.0.1", echo_server), timeout=30) as sock:
        sock.sendall(_request(body, sizes, mixed))
        (answer,) = _answers(sock, 1)
    assert answer == {
        "length": size,
        "sha256": hashlib.sha256(body).hexdigest(),
        "direct": True,
    }


def test_pipelined_requests_on_one_connection(echo_server: int) -> None:
    """Three requests sent back to back in one write: gunicorn reads the first head
    with some of the bodies after it; each body is read exactly (no byte of the next
    request taken, none left over) and gunicorn parses the next request where the body
    ends, then keeps the connection for a fourth."""
    bodies = [os.urandom(n) for n in (5000, 200_000, 10)]
    with socket.create_connection(("127.0.0.1", echo_server), timeout=30) as sock:
        sock.sendall(b"".join(_request(body, "4096") for body in bodies))
        answers = _answers(sock, 3)
        fourth = os.urandom(70_000)
        sock.sendall(_request(fourth, "1048576"))
        answers += _answers(sock, 1)
    assert [a["sha256"] for a in answers] == [
        hashlib.sha256(b).hexdigest() for b in [*bodies, fourth]
    ]
    assert [a["length"] for a in answers] == [len(b) for b in [*bodies, fourth]]
    assert all(a["direct"] for a in answers)
