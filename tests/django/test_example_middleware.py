"""The reference project's middleware: messages storage built only when a request uses it."""

from __future__ import annotations

from typing import Any

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
