"""The reference app: mediakit's router, demo tokens, a health check and the web page."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import attrs
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from mediakit.models import Principal
from mediakit.service import MediaKit, build_service
from mediakit.settings import Settings
from mediakit.storage import ensure_bucket
from mediakit_fastapi import bearer_token_principal, create_router, install_error_handlers

__all__ = ["DemoTokens", "create_app", "demo_tokens"]

log = logging.getLogger("mediakit.example")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""Headers of the page's files (the Django server's middleware sends the same)."""


class _PageFiles(StaticFiles):
    """The page's static files with :data:`PAGE_HEADERS`: an admin types a token into this
    page, so it must not be framed by another site (clickjacking)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file's response, with the page headers."""
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


@attrs.frozen
class DemoTokens:
    """The two bearer tokens of the reference server, and whether they were generated."""

    admin: str
    user: str
    generated: bool


def demo_tokens(environ: Mapping[str, str] | None = None) -> DemoTokens:
    """Tokens from MEDIAKIT_DEMO_ADMIN_TOKEN / MEDIAKIT_DEMO_USER_TOKEN, generated when unset."""
    env = os.environ if environ is None else environ
    admin = env.get("MEDIAKIT_DEMO_ADMIN_TOKEN", "").strip()
    user = env.get("MEDIAKIT_DEMO_USER_TOKEN", "").strip()
    generated = not admin or not user
    return DemoTokens(
        admin or secrets.token_urlsafe(24), user or secrets.token_urlsafe(24), generated
    )


def create_app(
    settings: Settings | None = None,
    tokens: DemoTokens | None = None,
    *,
    kit: MediaKit | None = None,
    web_dir: Path | None = WEB_DIR,
) -> FastAPI:
    """The reference FastAPI app; the kit is closed (job runner shut down) at shutdown."""
    settings = settings if settings is not None else Settings.from_env()
    tokens = tokens if tokens is not None else demo_tokens()
    kit = kit if kit is not None else build_service(settings)
    if hasattr(kit.store, "ensure_bucket"):
        ensure_bucket(kit.store)  # a reference server creates its bucket / directory

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await kit.astart()  # the S3 client now, not on the first request
            yield
        finally:
            await kit.aclose()

    app = FastAPI(
        title="mediakit reference server",
        version="1",
        summary="Private media on S3-compatible storage, served fast.",
        lifespan=lifespan,
    )
    app.state.kit = kit
    # The reference server serves only mediakit's API: every error in its shape.
    install_error_handlers(app, framework_errors=True)
    principal = bearer_token_principal(
        {
            tokens.admin: Principal("demo-admin", is_admin=True),
            tokens.user: Principal("demo-user"),
        }
    )
    app.include_router(create_router(kit, get_principal=principal))

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Readiness probe (no auth)."""
        return {"status": "ok"}

    if web_dir is not None and web_dir.is_dir():
        app.mount("/", _PageFiles(directory=web_dir, html=True), name="web")
    return app
