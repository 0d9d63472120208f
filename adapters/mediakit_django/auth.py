"""Principal resolvers: ``callable(request) -> Principal | None``.

Pick one with ``MEDIAKIT["PRINCIPAL_RESOLVER"]`` (a dotted path); ``None`` means
"not authenticated" (401). Shipped:

- :func:`bearer_token_principal`: ``Authorization: Bearer <token>`` looked up in
  ``MEDIAKIT["TOKENS"]`` (constant-time comparison);
- :func:`session_principal`: the logged-in ``request.user`` (admin = ``is_staff``);
- :func:`bearer_or_session_principal` (default): a bearer token when the request has
  an ``Authorization`` header, the session otherwise.

CSRF: requests carrying ``Authorization: Bearer`` are exempt (a bearer token is not
ambient authority: browsers never add it on their own); every other unsafe request,
such as one authenticated by the session cookie (or by HTTP Basic credentials, which
browsers do replay), must pass Django's CSRF check, whatever the resolver.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from mediakit.models import Principal
from mediakit_django import conf

__all__ = [
    "PrincipalResolver",
    "bearer_or_session_principal",
    "bearer_token",
    "bearer_token_principal",
    "get_resolver",
    "session_principal",
    "token_table",
]

PrincipalResolver = Callable[[HttpRequest], Principal | None]
"""The shape of ``MEDIAKIT["PRINCIPAL_RESOLVER"]``."""


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _principal(token: str, value: Any) -> Principal:
    if isinstance(value, Principal):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return Principal(value["id"], is_admin=bool(value.get("is_admin", False)))
    raise ImproperlyConfigured(
        'settings.MEDIAKIT["TOKENS"] values must be Principal objects or '
        '{"id": str, "is_admin": bool} dicts.'
    )


def token_table() -> dict[bytes, Principal]:
    """``MEDIAKIT["TOKENS"]`` as token bytes -> principal."""
    tokens = conf.adapter_options()["TOKENS"]
    if not isinstance(tokens, Mapping):
        raise ImproperlyConfigured('settings.MEDIAKIT["TOKENS"] must be a dict.')
    return {str(t).encode(): _principal(str(t), v) for t, v in tokens.items()}


def bearer_token_principal(request: HttpRequest) -> Principal | None:
    """The principal of the request's bearer token in ``MEDIAKIT["TOKENS"]``, or ``None``."""
    token = bearer_token(request)
    if token is None:
        return None
    presented = token.encode()
    found: Principal | None = None
    for known, who in token_table().items():  # no early exit: constant time in the table
        if hmac.compare_digest(presented, known):
            found = who
    return found


def session_principal(request: HttpRequest) -> Principal | None:
    """The logged-in Django user (``AuthenticationMiddleware``); staff are admins."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return Principal(f"user:{user.pk}", is_admin=bool(user.is_staff))


def bearer_or_session_principal(request: HttpRequest) -> Principal | None:
    """A bearer token when an ``Authorization`` header is sent, the session otherwise."""
    if "HTTP_AUTHORIZATION" in request.META:
        return bearer_token_principal(request)
    return session_principal(request)


def get_resolver() -> PrincipalResolver:
    """The resolver ``MEDIAKIT["PRINCIPAL_RESOLVER"]`` names."""
    spec = conf.adapter_options()["PRINCIPAL_RESOLVER"]
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    try:
        resolver = import_string(str(spec))
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'settings.MEDIAKIT["PRINCIPAL_RESOLVER"] = {spec!r} cannot be imported: {exc}'
        ) from exc
    if not callable(resolver):
        raise ImproperlyConfigured(
            f'settings.MEDIAKIT["PRINCIPAL_RESOLVER"] = {spec!r} is not callable'
        )
    return resolver  # type: ignore[no-any-return]
