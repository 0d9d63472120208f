"""The reference project's per-request trimmings: messages storage built only when a request
uses it, gunicorn's access line without the atoms its format does not use."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.django.support import ensure_django

ensure_django()

from django.contrib import messages  # noqa: E402
from django.contrib.sessions.middleware import SessionMiddleware  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.utils.functional import empty  # noqa: E402
from examples.django_server.middleware import (  # noqa: E402
    InlineMessageMiddleware,
    LazyMessageMiddleware,
)


def _through(middleware: Any, view: Any) -> tuple[HttpRequest, HttpResponse]:
    """A GET through SessionMiddleware, then ``middleware``, to ``view``."""
    request = RequestFactory().get("/admin/")
    seen: list[HttpRequest] = []

    def inner(r: HttpRequest) -> HttpResponse:
        seen.append(r)
        return view(r)

    response = SessionMiddleware(middleware(inner))(request)
    return seen[0], response


def test_a_request_that_never_uses_messages_never_builds_their_storage() -> None:
    """No storage built, no cookie: what Django's middleware would have stored is nothing."""
    for middleware in (LazyMessageMiddleware, InlineMessageMiddleware):
        request, response = _through(middleware, lambda r: HttpResponse("ok"))
        assert request.__dict__["_messages"]._wrapped is empty
        assert "messages" not in response.cookies


def test_a_message_added_is_stored_and_read_back_as_with_django() -> None:
    """Adding a message builds the storage and the response stores it (the messages
    cookie); the next request reads it back."""

    def add(r: HttpRequest) -> HttpResponse:
        messages.success(r, "Saved.")
        return HttpResponse("ok")

    _, response = _through(LazyMessageMiddleware, add)
    cookie = response.cookies["messages"].value
    assert cookie

    request = RequestFactory().get("/admin/")
    request.COOKIES["messages"] = cookie
    got: list[str] = []

    def read(r: HttpRequest) -> HttpResponse:
        got.extend(str(m) for m in messages.get_messages(r))
        return HttpResponse("ok")

    SessionMiddleware(LazyMessageMiddleware(read))(request)
    assert got == ["Saved."]


class _Response:
    """What gunicorn's access atoms read of its response (status, bytes sent, headers)."""

    def __init__(self, status: str, sent: int | None, headers: list[tuple[str, str]]) -> None:
        self.status = status
        self.sent = sent
        self.headers = headers


@pytest.mark.parametrize(
    ("environ_extra", "status", "sent"),
    [
        ({}, "206 Partial Content", 65536),
        ({"HTTP_REFERER": 'https://x.example/"q"', "QUERY_STRING": "a=1"}, "200 OK", 17),
        ({"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"ann:pw").decode()}, "401", None),
    ],
)
def test_the_lean_access_log_line_is_gunicorns(
    environ_extra: dict[str, str], status: str, sent: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference WSGI server's access logger writes gunicorn's default line byte for
    byte (without building the header and environ atoms the format does not use); a
    format that uses them gets gunicorn's own atoms."""
    import datetime as dt

    from examples.django_server.__main__ import access_logger_class
    from gunicorn.config import Config
    from gunicorn.glogging import Logger, SafeAtoms

    monkeypatch.setattr(Logger, "now", lambda self: "[06/Dec/2026:09:00:00 +0000]")
    cfg = Config()
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/user/media/m1/stream?x=1",
        "PATH_INFO": "/api/v1/user/media/m1/stream",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "python-httpx/0.28",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        **environ_extra,
    }
    headers = [("Host", "127.0.0.1:8000"), ("User-Agent", "python-httpx/0.28")]
    resp = _Response(status, sent, [("Content-Type", "image/jpeg"), ("ETag", '"e1"')])
    took = dt.timedelta(microseconds=1234)
    lean, plain = access_logger_class()(cfg), Logger(cfg)
    for fmt in (cfg.access_log_format, '%(h)s "%(r)s" %({user-agent}i)s %({etag}o)s'):
        cfg.set("access_log_format", fmt)
        req = type("Req", (), {"headers": headers})()
        line = fmt % SafeAtoms(lean.atoms(resp, req, environ, took))
        assert line == fmt % SafeAtoms(plain.atoms(resp, req, environ, took))
    default = Config().access_log_format
    cfg.set("access_log_format", default)
    line = default % SafeAtoms(lean.atoms(resp, (), environ, took))
    assert line.startswith("127.0.0.1 - " + ("ann" if "HTTP_AUTHORIZATION" in environ else "-"))
    assert f'"GET {environ["RAW_URI"]} HTTP/1.1" {status.split()[0]} {sent or "-"}' in line
