"""A simple bearer-token principal dependency (real apps plug in their own)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mediakit.errors import Unauthorized
from mediakit.models import Principal

__all__ = ["bearer_token_principal"]


def bearer_token_principal(
    tokens: Mapping[str, Principal],
) -> Callable[..., Principal]:
    """A dependency resolving ``Authorization: Bearer <token>`` to a principal.

    A missing or unknown token raises :class:`~mediakit.errors.Unauthorized` (401 with
    ``WWW-Authenticate: Bearer``). Tokens are compared in constant time.
    """
    known = dict(tokens)
    scheme = HTTPBearer(auto_error=False, description="A token from the server's configuration.")

    def principal(
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),
    ) -> Principal:
        if credentials is None:
            raise Unauthorized("Send 'Authorization: Bearer <token>'.")
        presented = credentials.credentials.encode()
        for token, who in known.items():
            if hmac.compare_digest(presented, token.encode()):
                return who
        raise Unauthorized("The bearer token is not valid.")

    return principal
