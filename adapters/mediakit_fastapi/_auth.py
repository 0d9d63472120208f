"""A simple bearer-token principal dependency (real apps plug in their own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mediakit.contract import BEARER_HINT, bearer_token, find_token
from mediakit.errors import Unauthorized
from mediakit.models import Principal

__all__ = ["bearer_token_principal"]


def bearer_token_principal(
    tokens: Mapping[str, Principal],
) -> Callable[..., Awaitable[Principal]]:
    """A dependency resolving ``Authorization: Bearer <token>`` to a principal.

    A missing or unknown token raises [`Unauthorized`][mediakit.errors.Unauthorized]
    (401 with ``WWW-Authenticate: Bearer``). Tokens are compared in constant time.
    """
    known = dict(tokens)
    # The scheme documents the header in OpenAPI; the matching is the core's rule
    # (mediakit.contract), shared with the Django adapter.
    scheme = HTTPBearer(auto_error=False, description="A token from the server's configuration.")

    # async although it waits on nothing: a plain ``def`` dependency runs in FastAPI's
    # thread pool, a hop costing more than the token lookup on every request
    async def principal(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(scheme),
    ) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise Unauthorized(BEARER_HINT)
        who = find_token(token, known)
        if who is None:
            raise Unauthorized("The bearer token is not valid.")
        return who

    return principal
