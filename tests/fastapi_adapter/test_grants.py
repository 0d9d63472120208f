"""The FastAPI proxy route takes a principal from the app's own dependency, or a URL grant
instead: with async and sync dependencies, sub-dependencies and string annotations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi import Depends, FastAPI, Header

from mediakit.errors import Unauthorized
from mediakit.models import Principal
from mediakit.service import MediaKit
from mediakit_fastapi import create_router, install_error_handlers
from tests.fastapi_adapter.client import Client
from tests.service.kit import USER, make_kit, seed_image

CALLS: list[str] = []


def _api_key(x_api_key: Annotated[str | None, Header()] = None) -> str | None:
    return x_api_key


async def async_principal(key: Annotated[str | None, Depends(_api_key)]) -> Principal:
    """An async resolver reading X-Api-Key through a sub-dependency."""
    CALLS.append("async")
    if key == "user":
        return USER
    raise Unauthorized("Send X-Api-Key.")


def sync_principal(key: Annotated[str | None, Depends(_api_key)]) -> Principal:
    """The same, as a plain function (FastAPI would run it in a thread)."""
    CALLS.append("sync")
    if key == "user":
        return USER
    raise Unauthorized("Send X-Api-Key.")


class ClassPrincipal:
    """A callable object as the dependency."""

    async def __call__(self, key: Annotated[str | None, Depends(_api_key)]) -> Principal:
        CALLS.append("class")
        if key == "user":
            return USER
        raise Unauthorized("Send X-Api-Key.")


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    """A memory kit handing out proxy URLs."""
    k = make_kit(delivery="proxy")
    yield k
    k.close()


@pytest.mark.parametrize(
    "resolver", [async_principal, sync_principal, ClassPrincipal()], ids=["async", "sync", "class"]
)
def test_grant_or_principal_with_the_apps_dependency(
    kit: MediaKit, resolver: Callable[..., Any]
) -> None:
    """A grant URL is served without calling the resolver; without a grant the resolver
    decides (200 with its header, its own 401 without)."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(create_router(kit, get_principal=resolver))
    client = Client(app)
    image = seed_image(kit)
    url = kit.service.get_image(USER, image.id)["url"]
    CALLS.clear()
    r = client.get(url, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206, r.text
    assert CALLS == []  # the grant stood in; the app's resolver was not asked
    bare = urlsplit(url).path
    assert client.get(bare, headers={"X-Api-Key": "user"}).status_code == 200
    r = client.get(bare)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Send X-Api-Key."
    query = dict(parse_qsl(urlsplit(url).query))
    tampered = ("y" if query["sig"][0] == "x" else "x") + query["sig"][1:]
    r = client.get(bare, params={**query, "sig": tampered})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "url_signature_invalid"


def test_openapi_lists_the_grant_parameters(kit: MediaKit) -> None:
    """The proxy operation documents `exp` and `sig` and its 403."""
    app = FastAPI()
    app.include_router(create_router(kit, get_principal=async_principal))
    op = app.openapi()["paths"]["/api/v1/user/media/{media_id}/stream"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"exp", "sig", "quality", "size"} <= names
    assert "403" in op["responses"]
