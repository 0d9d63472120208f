"""An existing FastAPI app that mounts mediakit, as a user would write it (mypy --strict)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI, Header

from mediakit import Principal, Settings, Unauthorized
from mediakit.repositories import MemoryRepositories
from mediakit.service import (
    ImageView,
    MediaKit,
    MusicSetDetail,
    MusicSetView,
    PageView,
    StreamUrl,
    build_service,
)
from mediakit_fastapi import create_router, install_error_handlers

SESSIONS: dict[str, Principal] = {
    "alice-session": Principal("alice", is_admin=True),
    "bob-session": Principal("bob"),
}


def make_kit() -> MediaKit:
    """The kit on in-memory parts (the smoke run has no S3 for this app)."""
    settings = Settings(
        storage_backend="memory",
        job_runner="inline",
        signing_secret=os.environ.get("APP_SIGNING_SECRET", "a-long-random-secret-for-urls"),
    )
    return build_service(settings, repos=MemoryRepositories.create())


kit = make_kit()


def current_principal(x_session: str = Header(default="")) -> Principal:
    """The app's own authentication: a session header mapped to a principal."""
    principal = SESSIONS.get(x_session)
    if principal is None:
        raise Unauthorized("Sign in first.")
    return principal


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Close the kit at shutdown."""
    yield
    await kit.aclose()


app = FastAPI(lifespan=lifespan)
install_error_handlers(app)
app.include_router(create_router(kit, get_principal=current_principal))


@app.get("/")
def home() -> dict[str, str]:
    """The app's own route."""
    return {"hello": "world"}


@app.get("/catalogue")
async def catalogue(x_session: str = Header(default="")) -> dict[str, list[str]]:
    """The app's own page over mediakit's typed service values."""
    page: PageView[MusicSetView] = await kit.aservice.list_music_sets(current_principal(x_session))
    return {"titles": [s["title"] for s in page["items"]]}


def track_titles(detail: MusicSetDetail) -> list[str]:
    """Typed access to a set's tracks."""
    return [t["title"] for t in detail["tracks"]]


def thumbnail_urls(image: ImageView) -> dict[str, str]:
    """Typed access to an image's thumbnails."""
    return dict(image["thumbnails"])


def stream_expiry(stream: StreamUrl) -> str:
    """Typed access to a stream URL's expiry."""
    return stream["expires_at"]
