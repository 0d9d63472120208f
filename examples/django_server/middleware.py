"""Django's built-in middleware for the reference server: without thread hops on
mediakit's API under ASGI, and messages storage built only when a request uses it.

Django's built-in middleware classes are synchronous (``MiddlewareMixin``): under ASGI,
each of their ``process_request`` / ``process_view`` / ``process_response`` runs through
``sync_to_async``, a hop to Django's thread-sensitive worker and back. The seven this
project uses (the admin needs them) cost an API request thirteen hops, about 0.5 ms of
CPU on the benchmark machine (``python -m benchmarks.routes --only seek``).

Their hooks do no I/O for a request that leaves the session alone (all of mediakit's
API with bearer tokens, and the readiness probe): they read headers and cookies and set
lazy attributes. The subclasses here run them inline on the event loop for those paths,
and as Django does (in the worker thread) for every other path and for any response whose
request touched the session (saving it is a database write).

:class:`LazyMessageMiddleware` (and its inline ASGI variant) builds a request's messages
storage (a cookie and a session storage, a cookie signer) only when something reads or
adds a message: the API never does, and building it cost about 20 us per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject, empty

__all__ = [
    "INLINE_PATHS",
    "LazyMessageMiddleware",
    "InlineAuthenticationMiddleware",
    "InlineCommonMiddleware",
    "InlineCsrfViewMiddleware",
    "InlineMessageMiddleware",
    "InlineSecurityMiddleware",
    "InlineSessionMiddleware",
    "InlineXFrameOptionsMiddleware",
]

INLINE_PATHS = ("/api/v1/", "/healthz")
"""Requests under these paths run the hooks inline: the API and the readiness probe,
neither of which touches the session."""


def _session_touched(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    return session is not None and bool(session.accessed or session.modified)


class _InlineForApi(MiddlewareMixin):
    """``__acall__`` running the sync hooks inline for API requests."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """Django's ``MiddlewareMixin.__acall__``, without the hops for API paths."""
        if not request.path.startswith(INLINE_PATHS):
            response: HttpResponseBase = await super().__acall__(request)
            return response
        process_request: Callable[..., Any] | None = getattr(self, "process_request", None)
        process_response: Callable[..., Any] | None = getattr(self, "process_response", None)
        found = process_request(request) if process_request is not None else None
        response = found or await self.get_response(request)  # type: ignore[misc]
        if process_response is not None:
            if _session_touched(request):  # saving it is I/O: Django's way
                response = await sync_to_async(process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = process_response(request, response)
        return response


class InlineSecurityMiddleware(_InlineForApi, SecurityMiddleware):
    """``SecurityMiddleware``, inline for API requests."""


class InlineSessionMiddleware(_InlineForApi, SessionMiddleware):
    """``SessionMiddleware``, inline for API requests (the session stays lazy)."""


class InlineCommonMiddleware(_InlineForApi, CommonMiddleware):
    """``CommonMiddleware``, inline for API requests."""


class InlineCsrfViewMiddleware(_InlineForApi, CsrfViewMiddleware):
    """``CsrfViewMiddleware``, inline for API requests; its view hook is async so the
    handler does not wrap it in a hop (mediakit's views are CSRF-exempt: they run the
    check themselves when the principal comes from the session)."""

    async def process_view(  # type: ignore[override]
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        """Django's check, in the worker thread, unless the view is exempt."""
        if getattr(callback, "csrf_exempt", False):
            return None
        check = super().process_view
        result: HttpResponseBase | None = await sync_to_async(check, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )
        return result


class InlineAuthenticationMiddleware(_InlineForApi, AuthenticationMiddleware):
    """``AuthenticationMiddleware``, inline for API requests (``request.user`` stays lazy)."""


class LazyMessageMiddleware(MessageMiddleware):
    """``MessageMiddleware`` whose storage is built on first use.

    ``request._messages`` is a lazy object over Django's storage: reading, adding or
    iterating messages builds it as before, and the response updates it as Django does.
    A request that never touched it has nothing to store (Django's ``update`` would
    write nothing either), so the response is left as it is.
    """

    def process_request(self, request: HttpRequest) -> None:
        """The storage, lazily (see the class)."""
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Django's update of the storage, when the request built it."""
        storage = request.__dict__.get("_messages")
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:
            return response
        return super().process_response(request, response)


class InlineMessageMiddleware(_InlineForApi, LazyMessageMiddleware):
    """``LazyMessageMiddleware``, inline for API requests."""


class InlineXFrameOptionsMiddleware(_InlineForApi, XFrameOptionsMiddleware):
    """``XFrameOptionsMiddleware``, inline for API requests."""
