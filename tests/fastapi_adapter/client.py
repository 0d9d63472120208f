"""A small synchronous test client over httpx's ASGI transport.

Starlette's TestClient wants the ``httpx2`` package in this Starlette version; this
shim runs each request in its own event loop with ``httpx.ASGITransport`` instead.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
import httpx


class Client:
    """``client.get(url, headers=...)`` etc., answered by the ASGI app in process."""

    def __init__(self, app: Any, *, raise_server_exceptions: bool = True) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and read the whole response."""

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(
                app=self.app, raise_app_exceptions=self.raise_server_exceptions
            )
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                response = await c.request(method, url, **kwargs)
                await response.aread()
                return response

        return anyio.run(go)

    def __getattr__(self, method: str) -> Any:
        if method in ("get", "post", "put", "delete", "head", "patch"):
            return functools.partial(self.request, method.upper())
        raise AttributeError(method)
