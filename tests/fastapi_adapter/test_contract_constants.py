"""The contract's constants live in mediakit.contract, and the FastAPI adapter's validation,
its OpenAPI and the service all follow them; the bearer matching is one rule."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from mediakit import contract
from mediakit.errors import UnprocessableEntity
from mediakit.models import Principal
from mediakit.service import _policy as policy
from mediakit.settings import Settings
from mediakit_fastapi import bearer_token_principal, create_router
from tests.fastapi_adapter.client import Client
from tests.service.kit import make_kit


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    kit = make_kit()
    app = FastAPI()
    app.include_router(create_router(kit, get_principal=lambda: Principal("u")))
    try:
        return app.openapi()
    finally:
        kit.close()


def _param(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    op = spec["paths"][path]["get"]
    return next(p for p in op["parameters"] if p["name"] == name)


def test_openapi_enums_and_bounds_are_the_contracts(spec: dict[str, Any]) -> None:
    """Quality enums, page-size bounds and the title length come from mediakit.contract."""
    quality = _param(spec, "/api/v1/user/music-sets/{set_id}/stream/{track_id}", "quality")
    assert tuple(quality["schema"]["anyOf"][0]["enum"]) == contract.STREAM_TIERS
    proxy = _param(spec, "/api/v1/user/media/{media_id}/stream", "quality")
    assert tuple(proxy["schema"]["anyOf"][0]["enum"]) == contract.PROXY_QUALITIES
    limit = _param(spec, "/api/v1/user/images", "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (
        contract.MIN_LIMIT,
        contract.MAX_LIMIT,
        contract.DEFAULT_LIMIT,
    )
    title = spec["components"]["schemas"]["MusicSetCreate"]["properties"]["title"]
    assert str(contract.MAX_TITLE) in title["description"]


def test_the_service_and_settings_use_the_same_constants() -> None:
    """Re-exported, not copied: the policy's names are the contract's objects."""
    assert policy.STREAM_TIERS is contract.STREAM_TIERS
    assert (policy.MAX_TITLE, policy.MAX_LIMIT) == (contract.MAX_TITLE, contract.MAX_LIMIT)
    for tier in contract.STREAM_TIERS:
        assert Settings(audio_quality_default=tier).audio_quality_default == tier
    assert policy.check_listing_limit(contract.MAX_LIMIT) == contract.MAX_LIMIT
    for bad in (contract.MIN_LIMIT - 1, contract.MAX_LIMIT + 1):
        with pytest.raises(UnprocessableEntity):
            policy.check_listing_limit(bad)


_TOKEN = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N", "P")), min_size=1, max_size=40
)


@given(token=_TOKEN, scheme=st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"]))
def test_bearer_token_reads_any_case_of_the_scheme(token: str, scheme: str) -> None:
    """``<scheme> <token>`` gives the token back, whatever the scheme's case and padding."""
    assert contract.bearer_token(f"{scheme} {token}") == token
    assert contract.bearer_token(f"  {scheme}   {token}  ") == token
    assert contract.bearer_token(f"Basic {token}") is None
    assert contract.bearer_token(scheme) is None


@given(table=st.dictionaries(_TOKEN, st.integers(), max_size=5), presented=_TOKEN)
def test_find_token_is_a_plain_lookup(table: dict[str, int], presented: str) -> None:
    """The constant-time search answers what ``dict.get`` would."""
    assert contract.find_token(presented, table) == table.get(presented)


def test_fastapi_bearer_resolver_follows_the_core_rule() -> None:
    """The ready resolver accepts any case of ``Bearer`` and answers BEARER_HINT without one."""
    kit = make_kit()
    try:
        app = FastAPI()
        principal = bearer_token_principal({"t0k": Principal("u")})
        app.include_router(create_router(kit, get_principal=principal))
        client = Client(app)
        ok = client.get("/api/v1/user/images", headers={"Authorization": "bearer t0k"})
        assert ok.status_code == 200
        r = client.get("/api/v1/user/images")
        assert (r.status_code, r.json()["error"]["message"]) == (401, contract.BEARER_HINT)
    finally:
        kit.close()
