"""Fixtures: the FastAPI reference server with MEDIA_DELIVERY=offload on moto (S3 over HTTP),
and a real nginx in front of both, configured from docs/howto/nginx.md."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from tests import servers
from tests.http_contract.harness import (
    ADMIN_TOKEN,
    USER_TOKEN,
    ServerKind,
    StartContext,
    s3_env,
    start_server,
)
from tests.offload.nginx import NGINX, running_nginx
from tests.servers import ServerHandle


@attrs.frozen
class Offloaded:
    """The app (direct) and nginx in front of it, with clients for each."""

    app_url: str
    nginx_url: str
    env: dict[str, str]
    tmp: Path
    admin: httpx.Client
    """Admin token, through nginx."""
    user: httpx.Client
    """User token, through nginx."""
    raw: httpx.Client
    """No token and no base URL (a media element)."""

    def nginx_log(self) -> str:
        """nginx's error log, for failure messages."""
        path = self.tmp / "nginx" / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


KINDS = {
    "fastapi": ServerKind(command=[sys.executable, "-m", "examples.fastapi_server"]),
    "django": ServerKind(command=[sys.executable, "-m", "examples.django_server"]),
}
"""The reference servers put behind nginx (Django under uvicorn: its async views)."""


@pytest.fixture(
    scope="module",
    params=[("fastapi", "nanio_server"), ("fastapi", "moto_server"), ("django", "nanio_server")],
    ids=["fastapi-nanio", "fastapi-moto", "django-nanio"],
)
def offloaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Offloaded]:
    """nginx (offload config from the docs) -> reference server -> an S3 server (nanio
    checks the presigned URLs' signatures, so the Host and path nginx sends must be exact)."""
    servers.need(NGINX is not None, "nginx is not installed: apt-get install nginx")
    kind, s3_fixture = request.param
    s3: ServerHandle = request.getfixturevalue(s3_fixture)
    name = f"offload-{kind}-{s3_fixture.removesuffix('_server')}-{uuid.uuid4().hex[:6]}"
    tmp = tmp_path_factory.mktemp(name)
    env = s3_env(StartContext(name, tmp, {"moto_server": s3}))  # any S3 server's handle
    env["MEDIA_DELIVERY"] = "offload"
    proc, app_url, full_env, _log = start_server(KINDS[kind], name, tmp, env)
    try:
        with running_nginx(
            tmp / "nginx",
            listen=servers.free_port(),
            app=app_url.removeprefix("http://"),
            s3_endpoint=s3.url,
        ) as nginx_url:
            clients = [
                httpx.Client(base_url=nginx_url, headers=_bearer(ADMIN_TOKEN), timeout=30),
                httpx.Client(base_url=nginx_url, headers=_bearer(USER_TOKEN), timeout=30),
                httpx.Client(timeout=30),
            ]
            try:
                yield Offloaded(app_url, nginx_url, full_env, tmp, *clients)
            finally:
                for c in clients:
                    c.close()
    finally:
        servers.stop_process(proc)
