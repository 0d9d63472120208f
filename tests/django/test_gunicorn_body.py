"""The sync upload views under gunicorn read the body straight off the connection
(:func:`mediakit.gunicorn.body_reader`), not through gunicorn's and Django's buffers,
unless Django has read some of it already.

In-process, through Django's own WSGI handler, with gunicorn's own ``wsgi.input`` classes
over a real socket pair (tests/http/test_gunicorn_body.py covers the reader itself and a
real gunicorn)."""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mediakit.service import MediaKit
from tests.django.support import ADMIN_TOKEN, ensure_django
from tests.fixtures_media import jpeg_bytes
from tests.servers import IN_CI

try:
    import gunicorn.http.body as body_module
    from gunicorn.http.unreader import SocketUnreader
except ImportError:  # a failure under CI=true, a skip that says what to install elsewhere
    if IN_CI:
        raise
    pytest.skip("pip install gunicorn", allow_module_level=True)

ensure_django()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart  # noqa: E402

import mediakit_django.views as views  # noqa: E402

UPLOAD = "/api/v1/admin/images/upload"


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each direct read gave (empty: the direct reader was never used)."""
    got: list[int] = []
    real = views.gunicorn.body_reader

    def spying(wsgi_input: object) -> Callable[[int], bytes] | None:
        read = real(wsgi_input)
        if read is None:
            return None

        def counted(size: int) -> bytes:
            data = read(size)
            got.append(len(data))
            return data

        return counted

    monkeypatch.setattr(views.gunicorn, "body_reader", spying)
    return got


def _call(body: bytes, before: Callable[[Any], None] | None = None) -> tuple[str, dict[str, Any]]:
    """POST ``body`` (multipart) to the upload route through Django's WSGI handler, with
    gunicorn's ``wsgi.input`` over a socket pair (``before`` sees the request first, as a
    middleware would)."""
    a, b = socket.socketpair()
    with a, b:
        # as gunicorn leaves it after the request head: some body bytes read ahead
        unreader = SocketUnreader(b)
        unreader.unread(body[:1000])
        wsgi_input = body_module.Body(body_module.LengthReader(unreader, len(body)))
        sender = threading.Thread(target=a.sendall, args=(body[1000:],), daemon=True)
        sender.start()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": UPLOAD,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": MULTIPART_CONTENT,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Bearer {ADMIN_TOKEN}",
            "wsgi.input": wsgi_input,
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        handler = WSGIHandler()
        if before is not None:
            handler = _Wrapped(handler, before)
        out = b"".join(handler(environ, lambda s, h, *_: status.append(s)))
        sender.join()
        assert wsgi_input.reader.length == 0  # gunicorn sees its body read to the end
    return status[0], json.loads(out)


class _Wrapped:
    def __init__(self, handler: WSGIHandler, before: Callable[[Any], None]) -> None:
        self.handler = handler
        self.before = before

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        real = self.handler.get_response

        def get_response(request: Any) -> Any:
            self.before(request)
            return real(request)

        self.handler.get_response = get_response  # type: ignore[method-assign]
        return iter(self.handler(environ, start_response))


def _upload_body(size: int) -> tuple[bytes, int]:
    jpeg = jpeg_bytes(64, 48)
    jpeg += b"\0" * (size - len(jpeg))  # padding after the image: still a JPEG to libmagic
    files = {"files": [SimpleUploadedFile("a.jpg", jpeg, content_type="image/jpeg")]}
    return encode_multipart(BOUNDARY, files), len(jpeg)


def test_a_sync_upload_under_gunicorn_is_read_directly(
    kit: MediaKit, direct_reads: list[int]
) -> None:
    """The whole body comes through the direct reader and the upload is stored whole."""
    body, size = _upload_body(3 * 1024 * 1024)
    status, answer = _call(body)
    assert status.startswith("201"), answer
    assert answer["items"][0]["size"] == size
    assert sum(direct_reads) == len(body)
    sizes = sorted(kit.store.head(k).size for k in kit.store.list_keys())  # type: ignore[attr-defined]
    assert sizes[-1] == size  # the original, beside its small thumbnails


def test_a_body_django_started_reading_is_read_through_django(
    kit: MediaKit, direct_reads: list[int]
) -> None:
    """When something read from the request first (a middleware calling
    ``request.read``), the view keeps reading through Django's stream, where that read
    left off: the direct reader is not used, and the upload still works."""
    body, size = _upload_body(300_000)
    status, answer = _call(body, before=lambda request: request.read(0))
    assert status.startswith("201"), answer
    assert answer["items"][0]["size"] == size
    assert direct_reads == []


def test_without_gunicorn_the_view_reads_through_django(
    kit: MediaKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another server's ``wsgi.input`` (Django's test client here) is read through
    Django, as before."""
    assert "gunicorn.http.body" in sys.modules
    from django.test import Client

    jpeg = jpeg_bytes(64, 48)
    r = Client().post(
        UPLOAD,
        {"files": [SimpleUploadedFile("a.jpg", jpeg, content_type="image/jpeg")]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["items"][0]["size"] == len(jpeg)
