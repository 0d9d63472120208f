"""The third-party-style app (thirdparty.py, mediakit nested under ``/api/media``) as a real
uvicorn process started with ``--root-path /behind``, reached through a real nginx that
strips ``/behind``: the URLs handed out carry the root path and work through the proxy."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.fastapi_adapter.test_server_process import PYTHONPATH
from tests.fixtures_media import jpeg_bytes
from tests.service.kit import multipart

ADMIN = {"X-Api-Key": "admin-key"}
USER = {"X-Api-Key": "user-key"}
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

_NGINX_CONF = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 20m;
        location /behind/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_set_header Host $host;
            proxy_buffering off;
        }}
    }}
}}
"""


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn --root-path /behind, behind nginx; yields nginx's base URL."""
    servers.need(NGINX is not None, "nginx is not installed (apt-get install nginx)")
    assert NGINX is not None
    app_port, proxy_port = servers.free_port(), servers.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAKIT_", "MEDIA_"))}
    env.update(
        PYTHONPATH=PYTHONPATH,
        THIRDPARTY_MOUNT="nested",
        MEDIAKIT_STORAGE="filesystem",
        MEDIAKIT_STORAGE_ROOT=str(tmp_path / "objects"),
        MEDIAKIT_DATABASE_URL=f"sqlite:///{tmp_path / 'media.db'}",
        MEDIAKIT_SIGNING_SECRET="third-party-signing-secret-0123456789",
        MEDIAKIT_JOB_RUNNER="inline",
    )
    (tmp_path / "objects").mkdir()
    app = servers._spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.fastapi_adapter.thirdparty:factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(app_port),
            "--root-path",
            "/behind",
        ],
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(tmp=tmp_path, port=proxy_port, upstream=app_port))
    proxy = servers._spawn([NGINX, "-p", str(tmp_path), "-c", str(conf)])
    try:
        servers.wait_for_port(app_port, app, timeout=60)
        servers.wait_for_port(proxy_port, proxy)
        yield f"http://127.0.0.1:{proxy_port}"
    finally:
        servers.stop_process(proxy)
        servers.stop_process(app)


def test_urls_carry_the_root_path_and_work_through_the_proxy(behind_nginx: str) -> None:
    """Upload and list through nginx: the local-file URLs start with /behind/api/media and
    serve the bytes (and ranges) through nginx; errors keep their owners' shapes."""
    with httpx.Client(base_url=behind_nginx, timeout=30) as client:
        base = "/behind/api/media/api/v1"
        body, ct = multipart([("a.jpg", jpeg_bytes())], {"visible": "true"})
        r = client.post(
            f"{base}/admin/images/upload", headers={**ADMIN, "Content-Type": ct}, content=body
        )
        assert r.status_code == 201, r.text
        [image] = r.json()["items"]
        assert image["url"].startswith("/behind/api/media/api/v1/media/local/images/")
        view = client.get(f"{base}/user/images/{image['id']}", headers=USER).json()
        assert view["url"] == image["url"]
        r = client.get(view["url"])
        assert (r.status_code, r.content) == (200, jpeg_bytes())
        r = client.get(view["url"], headers={"Range": "bytes=2-5"})
        assert (r.status_code, r.content) == (206, jpeg_bytes()[2:6])
        for url in view["thumbnails"].values():
            assert url.startswith("/behind/api/media/api/v1/media/local/")
            assert client.get(url).headers["content-type"] == "image/webp"
        # the app's own error shape, and mediakit's
        r = client.get("/behind/items/2")
        assert (r.status_code, r.json()) == (
            404,
            {"app_error": {"status": 404, "detail": "No such item."}},
        )
        r = client.get(f"{base}/user/images")
        assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")
        # FastAPI's docs find the schema through the root path too
        assert "/api/media/api/v1/user/images" in client.get("/behind/openapi.json").json()["paths"]
