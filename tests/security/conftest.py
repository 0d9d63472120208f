"""Security tests: attack the reference servers over real HTTP (black box).

One server per kind in :data:`KINDS` for the session (FastAPI, and Django under ASGI with
SQLite), started with :func:`tests.http_contract.harness.start_server` and the contract's
small upload limits. Tests here know nothing about the framework behind the socket.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.http_contract.conftest import SERVER_KINDS
from tests.http_contract.harness import ADMIN_TOKEN, USER_TOKEN, Api, client, start_server

KINDS = ("fastapi", "django-sqlite", "django-wsgi")
"""Server kinds attacked (all store objects on the local file system): FastAPI, Django under
ASGI (async views) and Django under WSGI (gunicorn, sync views), both on SQLite."""

_WSGI = {"MEDIAKIT_DJANGO_SERVER": "wsgi"}


@pytest.fixture(scope="session", params=KINDS)
def sec(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A running reference server of each kind in :data:`KINDS`."""
    name: str = request.param
    tmp = tmp_path_factory.mktemp(f"security-{name}")
    kind = SERVER_KINDS["django-sqlite" if name == "django-wsgi" else name]
    extra = _WSGI if name == "django-wsgi" else {}
    proc, base_url, env, log_path = start_server(kind, name, tmp, extra)
    clients = [
        client(base_url, ADMIN_TOKEN),
        client(base_url, USER_TOKEN),
        client(base_url, None),
        httpx.Client(timeout=30.0),
    ]
    try:
        yield Api(name, base_url, env, log_path, *clients)
    finally:
        for c in clients:
            c.close()
        servers.stop_process(proc)


def stored_files(api: Api) -> set[str]:
    """Every file under the server's object store directory (relative paths), but the
    store's own temporary files (an object being written)."""
    root = Path(api.env["MEDIAKIT_STORAGE_ROOT"])
    found = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    return {p for p in found if "/.mediakit/tmp/" not in f"/{p}"}


def raw_request(api: Api, request_bytes: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request_bytes`` as is on a new connection and return what comes back.

    httpx normalises paths (dot segments) and refuses bad header values, so the attacks that
    need a byte-exact request line or headers go through a plain socket.
    """
    url = httpx.URL(api.base_url)
    assert url.port is not None
    with socket.create_connection((url.host, url.port), timeout=timeout) as sock:
        sock.sendall(request_bytes)
        chunks: list[bytes] = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            pass
    return b"".join(chunks)


def raw_status(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(response.split(b" ", 2)[1])
