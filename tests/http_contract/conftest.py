"""The black-box HTTP contract suite: start each reference server kind as a real process.

Every test in this package talks HTTP to a server on 127.0.0.1 through the ``api`` fixture and
knows nothing about the framework behind it, so every adapter must pass it unchanged.

Adding a server kind is one entry in :data:`SERVER_KINDS`, e.g. for the Django adapter::

    "django-sqlite": ServerKind(command=[sys.executable, "-m", "examples.django_server"]),
    "django-postgres": ServerKind(
        command=[sys.executable, "-m", "examples.django_server"],
        fixtures=("postgres_server",),
        configure=postgres_env,
        marks=(pytest.mark.postgres,),
    ),

Each kind starts once per test session with a fresh data directory, fixed demo tokens and small
upload limits (see :data:`tests.http_contract.harness.BASE_ENV`), and is stopped before the next
kind starts.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests import servers
from tests.http_contract.harness import (
    ADMIN_TOKEN,
    USER_TOKEN,
    Api,
    ServerKind,
    StartContext,
    client,
    postgres_env,
    s3_env,
    start_server,
)

__all__ = ["SERVER_KINDS", "postgres_env", "s3_env"]

_PER_SERVER = ("MEDIAKIT_HOST", "MEDIAKIT_PORT", "MEDIAKIT_DATABASE_URL", "MEDIAKIT_STORAGE_ROOT")


def _django_on_postgres(server: str) -> ServerKind:
    """The Django reference server on PostgreSQL, under ``server`` ("wsgi" or "asgi")."""
    return ServerKind(
        command=[sys.executable, "-m", "examples.django_server"],
        env={"MEDIAKIT_DJANGO_SERVER": server},
        fixtures=("postgres_server",),
        configure=postgres_env,
        marks=(pytest.mark.postgres,),
    )


SERVER_KINDS: dict[str, ServerKind] = {
    "fastapi": ServerKind(command=[sys.executable, "-m", "examples.fastapi_server"]),
    "fastapi-s3": ServerKind(
        command=[sys.executable, "-m", "examples.fastapi_server"],
        fixtures=("moto_server",),
        configure=s3_env,
        marks=(pytest.mark.s3,),
    ),
    # the same on Ceph RGW, a production S3 implementation
    "fastapi-rgw": ServerKind(
        command=[sys.executable, "-m", "examples.fastapi_server"],
        fixtures=("ceph_rgw_server",),
        configure=s3_env,
        marks=(pytest.mark.s3, pytest.mark.ceph),
    ),
    # Django: SQLite under uvicorn (ASGI, async views), PostgreSQL under gunicorn (WSGI, sync
    # views) and under uvicorn (ASGI: the request's lent thread holds the connection)
    "django-sqlite": ServerKind(command=[sys.executable, "-m", "examples.django_server"]),
    "django-postgres": _django_on_postgres("wsgi"),
    "django-asgi-postgres": _django_on_postgres("asgi"),
}
"""Server kinds the suite runs against: name -> how to start it."""


@pytest.fixture(
    scope="session",
    params=[pytest.param(name, marks=kind.marks) for name, kind in SERVER_KINDS.items()],
)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A running reference server of each kind in :data:`SERVER_KINDS` (one per session)."""
    name: str = request.param
    kind = SERVER_KINDS[name]
    values = {f: request.getfixturevalue(f) for f in kind.fixtures}
    tmp = tmp_path_factory.mktemp(f"contract-{name}")
    extra = dict(kind.configure(StartContext(name, tmp, values))) if kind.configure else {}
    proc, base_url, env, log_path = start_server(kind, name, tmp, extra)
    clients = [
        client(base_url, ADMIN_TOKEN),
        client(base_url, USER_TOKEN),
        client(base_url, None),
        httpx.Client(timeout=30.0),
    ]
    try:
        yield Api(name, base_url, env, log_path, *clients)
    finally:
        for c in clients:
            c.close()
        servers.stop_process(proc)


PROXY_VARIANT: Mapping[str, str] = {
    "MEDIA_DELIVERY": "proxy",
    "MEDIAKIT_SIGNING_SECRET": "grant-secret-" + "x" * 24,
    "MEDIA_THUMBNAIL_SIZES": "120,200",
}
"""The one proxy-delivery variant of each kind: test_proxy_grants's grant tests and
test_settings's proxy and thumbnail-size test need the same settings (a signing secret of
its own, two thumbnail sizes that are not the defaults), so they share one server."""


@pytest.fixture(scope="session")
def _variant_servers(
    api: Api, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[frozenset[tuple[str, str]], Api]]:
    """The variant servers of ``api``'s kind started so far, by their overrides: a variant
    asked for by two modules starts once. They stop with ``api`` (when the session moves
    on to the next kind)."""
    procs = []
    opened: list[httpx.Client] = []

    def start(overrides: Mapping[str, str]) -> Api:
        kind = SERVER_KINDS[api.kind]
        tmp = tmp_path_factory.mktemp(f"variant-{api.kind}")
        inherited = {k: v for k, v in api.env.items() if k not in _PER_SERVER}
        proc, base_url, env, log_path = start_server(
            kind, api.kind, tmp, {**inherited, **overrides}
        )
        procs.append(proc)
        clients = [
            client(base_url, ADMIN_TOKEN),
            client(base_url, USER_TOKEN),
            client(base_url, None),
            httpx.Client(timeout=30.0),
        ]
        opened.extend(clients)
        return Api(api.kind, base_url, env, log_path, *clients)

    class Started(dict[frozenset[tuple[str, str]], Api]):
        def __missing__(self, key: frozenset[tuple[str, str]]) -> Api:
            self[key] = start(dict(key))
            return self[key]

    try:
        yield Started()
    finally:
        for c in opened:
            c.close()
        for proc in procs:
            servers.stop_process(proc)


@pytest.fixture(scope="module")
def start_variant(
    _variant_servers: dict[frozenset[tuple[str, str]], Api],
) -> Callable[[Mapping[str, str]], Api]:
    """A server of ``api``'s kind with some settings overridden (own SQLite/dir).

    It shares ``api``'s object storage settings (an S3 kind stays on S3). The same
    overrides give the same server, across modules (see :data:`PROXY_VARIANT`): a test
    must not depend on what another test using the variant left on it.
    """

    def start(overrides: Mapping[str, str]) -> Api:
        return _variant_servers[frozenset(overrides.items())]

    return start


SHORT_TTL: Mapping[str, str] = {
    "MEDIA_PRESIGN_TTL_SECONDS": "2",
    "MEDIA_PRESIGN_WINDOW_SECONDS": "0",
}
"""Handed-out URLs live 2 s (no signing window): the URL-expiry tests' variants."""


@dataclass(frozen=True)
class ExpiringUrl:
    """An image's JSON as a short-TTL server handed it out, and what a fetch of its URL
    right after answered."""

    api: Api
    image_id: str
    body: dict[str, Any]
    handed_out_at: dt.datetime
    first_status: int


@pytest.fixture(scope="session")
def expiring_urls(
    _variant_servers: dict[frozenset[tuple[str, str]], Api],
) -> dict[str, ExpiringUrl]:
    """A 2 s URL from each short-TTL variant of ``api``'s kind: ``"presign"`` (the default
    delivery: local signed or presigned URLs) and ``"grant"`` (MEDIA_DELIVERY=proxy). Both
    are handed out, and fetched once, together, so that the tests waiting for their
    expiry (test_settings.py::test_short_ttl_urls_expire, test_proxy_grants.py::
    test_expired_grant_is_403) wait out one lifetime between them, not one each."""
    apis = {
        "presign": _variant_servers[frozenset(SHORT_TTL.items())],
        "grant": _variant_servers[frozenset({**PROXY_VARIANT, **SHORT_TTL}.items())],
    }
    ids = {}
    for name, api in apis.items():
        created = api.create_image(f"expiring-{name}-{uuid.uuid4().hex[:8]}")
        ready = api.wait_image(created["id"])
        assert ready["status"] == "ready", ready
        ids[name] = ready["id"]
    urls = {}
    for name, api in apis.items():  # the lifetimes start here
        handed_out_at = dt.datetime.now(dt.UTC)
        body = api.user.get(f"/api/v1/user/images/{ids[name]}").json()
        # a presigned S3 URL is only checked for its lifetime (moto does not enforce it)
        presigned_s3 = name == "presign" and api.uses_s3
        first = 0 if presigned_s3 else api.fetch(body["url"]).status_code
        urls[name] = ExpiringUrl(api, ids[name], body, handed_out_at, first)
    return urls
