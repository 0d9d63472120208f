"""A busy or unreachable database is a 503 with Retry-After, with nothing half-written
(issue 14, defect 6): a real SQLite file locked by another connection's write
transaction, and a real PostgreSQL server stopped, under FastAPI and Django servers."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import servers
from tests.http_contract.conftest import SERVER_KINDS
from tests.http_contract.harness import (
    ADMIN_TOKEN,
    USER_TOKEN,
    Api,
    ServerKind,
    assert_error,
    client,
    jpeg_small,
    start_server,
)
from tests.http_contract.test_reliability import image_ids, original_keys

TIMEOUT_S = 1
"""MEDIAKIT_DATABASE_TIMEOUT_SECONDS of the PostgreSQL servers started here (whole seconds
reach PostgreSQL's connect timeout)."""

SQLITE_TIMEOUT_S = 0.2
"""MEDIAKIT_DATABASE_TIMEOUT_SECONDS of the SQLite servers started here: a fraction of a
second (the setting takes one), so the three locked requests wait 0.6 s, not 3 s."""


def start(
    kind: ServerKind, name: str, tmp: Path, env: dict[str, str], timeout_s: float = TIMEOUT_S
) -> tuple[Api, Any]:
    proc, base_url, full_env, log_path = start_server(
        kind, name, tmp, {"MEDIAKIT_DATABASE_TIMEOUT_SECONDS": str(timeout_s), **env}
    )
    api = Api(
        name,
        base_url,
        full_env,
        log_path,
        client(base_url, ADMIN_TOKEN),
        client(base_url, USER_TOKEN),
        client(base_url, None),
        httpx.Client(timeout=30.0),
    )
    return api, proc


def close(api: Api, proc: Any) -> None:
    for c in (api.admin, api.user, api.anon, api.raw):
        c.close()
    servers.stop_process(proc)


def assert_unavailable(r: httpx.Response, started: float) -> None:
    """503 database_unavailable with a Retry-After in seconds, answered within ~10 s."""
    assert time.monotonic() - started < 10
    err = assert_error(r, 503, "database_unavailable")
    assert "Retry-After" in err["message"]
    assert int(r.headers["retry-after"]) >= 1


@pytest.fixture(scope="module", params=["fastapi", "django-sqlite"])
def sqlite_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """A server on its own SQLite file, with a 0.2 s busy timeout."""
    tmp = tmp_path_factory.mktemp(f"dblock-{request.param}")
    api, proc = start(SERVER_KINDS[request.param], request.param, tmp, {}, SQLITE_TIMEOUT_S)
    try:
        yield api
    finally:
        close(api, proc)


def sqlite_path(api: Api) -> str:
    return api.env["MEDIAKIT_DATABASE_URL"].removeprefix("sqlite:///")


def test_locked_sqlite_is_503_and_nothing_is_written(sqlite_api: Api) -> None:
    """Another connection holds a write transaction: an upload and an edit are 503 with
    Retry-After after the busy timeout (not 30 s, not 500), readers still read (WAL), no
    object or row is left, and once the lock is gone the same requests succeed."""
    api = sqlite_api
    image = api.create_image("before-the-lock")
    rows, objects = image_ids(api), original_keys(api)
    holder = sqlite3.connect(sqlite_path(api), isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held until ROLLBACK
    try:
        started = time.monotonic()
        r = api.upload_images([("locked.jpg", jpeg_small(), "image/jpeg")], visible=True)
        assert_unavailable(r, started)
        started = time.monotonic()
        r = api.admin.put(f"/api/v1/admin/images/{image['id']}", json={"title": "changed"})
        assert_unavailable(r, started)
        started = time.monotonic()
        r = api.admin.post("/api/v1/admin/music-sets", json={"title": "locked out"})
        assert_unavailable(r, started)
        listed = api.user.get("/api/v1/user/images")  # WAL: readers are not blocked
        assert listed.status_code == 200, listed.text
        assert original_keys(api) == objects
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert image_ids(api) == rows
    assert api.admin.get(f"/api/v1/admin/images/{image['id']}").json()["title"] == image["title"]
    assert not [
        s for s in api.walk(api.admin, "/api/v1/admin/music-sets") if s["title"] == "locked out"
    ]
    r = api.upload_images([("free.jpg", jpeg_small(), "image/jpeg")], visible=True)
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module", params=["fastapi", "django-postgres", "django-asgi-postgres"])
def pg_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, servers.ServerHandle]]:
    """A server on its own PostgreSQL cluster (so the test can stop it)."""
    kind_name = request.param
    cluster = servers.start_postgres()
    tmp = tmp_path_factory.mktemp(f"dbdown-{kind_name}")
    kind = SERVER_KINDS.get(kind_name) or ServerKind(
        command=[sys.executable, "-m", "examples.fastapi_server"]
    )
    url = servers.create_pg_database(cluster, "mk_down")
    try:
        api, proc = start(kind, kind_name, tmp, {"MEDIAKIT_DATABASE_URL": url})
    except BaseException:
        cluster.stop()
        raise
    try:
        yield api, cluster
    finally:
        close(api, proc)
        cluster.stop()


@pytest.mark.postgres
def test_stopped_postgres_is_503_and_nothing_is_stored(
    pg_api: tuple[Api, servers.ServerHandle],
) -> None:
    """PostgreSQL goes away under a running server: uploads, edits and listings are 503
    with Retry-After within seconds, and a refused upload leaves no object behind."""
    api, cluster = pg_api
    image = api.create_image("before-the-stop")
    objects = original_keys(api)
    cluster.stop()
    started = time.monotonic()
    r = api.upload_images([("down.jpg", jpeg_small(), "image/jpeg")], visible=True)
    assert_unavailable(r, started)
    assert original_keys(api) == objects
    for method, path, body in [
        ("PUT", f"/api/v1/admin/images/{image['id']}", {"title": "changed"}),
        ("GET", "/api/v1/user/images", None),
        ("GET", f"/api/v1/user/images/{image['id']}", None),
        ("GET", f"/api/v1/user/media/{image['id']}/stream", None),
    ]:
        who = api.admin if method == "PUT" else api.user
        started = time.monotonic()
        assert_unavailable(who.request(method, path, json=body), started)
