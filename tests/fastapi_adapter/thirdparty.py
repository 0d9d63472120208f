"""A third-party-style FastAPI app that embeds mediakit the way an existing app would.

It has its own routes, its own authentication (an ``X-Api-Key`` header), its own
dependency (a tenant check raising ``HTTPException``), its own exception handlers (an
``{"app_error": ...}`` shape for every ``HTTPException``, 404 and 405 included, and for
its own ``AppError``), and mounts mediakit's router in one of several ways:

- ``include``: ``app.include_router(router, prefix="/media")``;
- ``nested``: inside ``APIRouter(prefix="/api")`` under ``/media``;
- ``router-prefix``: ``create_router(..., prefix="/media")``, included without one;
- ``subapp``: in a FastAPI sub-application mounted at ``/sub`` (under ``/media`` there).

:func:`factory` builds it from the environment for ``uvicorn --factory``.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mediakit.errors import Unauthorized
from mediakit.models import Principal
from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings
from mediakit.storage import ensure_bucket
from mediakit_fastapi import create_router

__all__ = ["API_KEYS", "MOUNTS", "AppError", "create_app", "factory", "media_base"]

API_KEYS = {"admin-key": Principal("ops", is_admin=True), "user-key": Principal("reader")}
MOUNTS = ("include", "nested", "router-prefix", "subapp")


class AppError(Exception):
    """The app's own error type, answered by its own handler."""


def api_key_principal(x_api_key: Annotated[str | None, Header()] = None) -> Principal:
    """The app's authentication: an API key in ``X-Api-Key``."""
    who = API_KEYS.get(x_api_key or "")
    if who is None:
        raise Unauthorized("Send your API key in the X-Api-Key header.")
    return who


def require_open_tenant(x_tenant: Annotated[str | None, Header()] = None) -> None:
    """The app's own dependency, run before every mediakit route."""
    if x_tenant == "blocked":
        raise HTTPException(status_code=403, detail="This tenant is blocked.")


def media_base(mount: str) -> str:
    """Where the mediakit routes are, for each way of mounting them."""
    return {"include": "/media", "nested": "/api/media", "router-prefix": "/media"}.get(
        mount, "/sub/media"
    )


def _app_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = {"app_error": {"status": exc.status_code, "detail": exc.detail}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse({"app_error": {"status": 418, "detail": str(exc)}}, status_code=418)


def create_app(kit: MediaKit, mount: str = "include") -> FastAPI:
    """The app, with mediakit's router mounted as ``mount`` says (one of :data:`MOUNTS`)."""
    app = FastAPI(title="third-party app")
    _app_errors(app)

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        """The app's own route: item 1 exists, others are the app's 404."""
        if item_id != 1:
            raise HTTPException(status_code=404, detail="No such item.")
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        """The app's own route raising the app's own error."""
        raise AppError("the app's own failure")

    def media(prefix: str = "") -> APIRouter:
        return create_router(
            kit,
            get_principal=api_key_principal,
            prefix=prefix,
            tags=["media-kit"],
            dependencies=[Depends(require_open_tenant)],
        )

    if mount == "include":
        app.include_router(media(), prefix="/media")
    elif mount == "nested":
        api = APIRouter(prefix="/api")
        api.include_router(media(), prefix="/media")
        app.include_router(api)
    elif mount == "router-prefix":
        app.include_router(media(prefix="/media"))
    elif mount == "subapp":
        sub = FastAPI()
        _app_errors(sub)
        sub.include_router(media(), prefix="/media")
        app.mount("/sub", sub)
    else:
        raise ValueError(f"unknown mount {mount!r}")
    return app


def factory() -> FastAPI:
    """The app over the environment's settings (``uvicorn --factory``); the mounting
    style comes from ``THIRDPARTY_MOUNT``."""
    kit = build_service(Settings.from_env())
    ensure_bucket(kit.store)  # a development setup creates its bucket (directory)
    return create_app(kit, os.environ.get("THIRDPARTY_MOUNT", "include"))
