"""The harness of the black-box HTTP suites: start a reference server process, talk to it.

Used by tests/http_contract (every server kind) and tests/e2e (the browser test).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests import servers
from tests.conftest import s3_client
from tests.media_samples import jpeg_bytes
from tests.servers import ACCESS_KEY, SECRET_KEY

__all__ = [
    "ADMIN_TOKEN",
    "BASE_ENV",
    "USER_TOKEN",
    "Api",
    "ServerKind",
    "StartContext",
    "assert_error",
    "client",
    "jpeg_small",
    "postgres_env",
    "s3_env",
    "start_server",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "contract-admin-token-0123456789"
USER_TOKEN = "contract-user-token-0123456789"
MiB = 1024 * 1024
MAX_FILE_SIZE = 2 * MiB
MAX_UPLOAD_TOTAL = 3 * MiB
MAX_FILES = 5
THUMBNAIL_SIZES = (160, 320)

BASE_ENV: dict[str, str] = {
    "MEDIAKIT_DEMO_ADMIN_TOKEN": ADMIN_TOKEN,
    "MEDIAKIT_DEMO_USER_TOKEN": USER_TOKEN,
    "MEDIA_MAX_FILE_SIZE": str(MAX_FILE_SIZE),
    "MEDIA_MAX_UPLOAD_SIZE_TOTAL": str(MAX_UPLOAD_TOTAL),
    "MEDIA_MAX_FILES_PER_REQUEST": str(MAX_FILES),
    "MEDIA_MAX_CONCURRENT_UPLOADS": "1",
    "MEDIA_THUMBNAIL_SIZES": ",".join(str(s) for s in THUMBNAIL_SIZES),
    "MEDIA_AUDIO_QUALITY_DEFAULT": "medium",
    "MEDIAKIT_JOB_RUNNER": "thread",
    "MEDIAKIT_SIGNING_SECRET": "contract-signing-secret-0123456789abcdef",
}
"""Environment every server kind starts with (the kind's own variables win)."""


@attrs.frozen
class StartContext:
    """What a kind's ``configure`` hook gets: its name, a temp dir and its fixtures' values."""

    name: str
    tmp: Path
    fixtures: Mapping[str, Any]


@attrs.frozen
class ServerKind:
    """How to start one kind of reference server.

    Attributes:
        command: argv, run with the repository root as working directory.
        env: extra environment variables.
        fixtures: names of session fixtures (e.g. ``moto_server``) the kind needs.
        configure: returns more environment variables, given the started fixtures.
        marks: pytest marks for every test run against this kind.
    """

    command: Sequence[str]
    env: Mapping[str, str] = attrs.field(factory=dict)
    fixtures: tuple[str, ...] = ()
    configure: Callable[[StartContext], Mapping[str, str]] | None = None
    marks: tuple[pytest.MarkDecorator, ...] = ()


def s3_env(ctx: StartContext) -> dict[str, str]:
    """S3 storage on the kind's S3 server (the session's moto server, or Ceph RGW with
    ``ceph_rgw_server``), in a bucket created for this kind."""
    server = ctx.fixtures.get("moto_server") or ctx.fixtures["ceph_rgw_server"]
    bucket = f"mk-contract-{os.getpid()}-{ctx.name}".lower()
    s3_client(server.url).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    return {
        "MEDIAKIT_STORAGE": "s3",
        "MEDIA_S3_ENDPOINT": server.url,
        "MEDIA_ASSETS_BUCKET": bucket,
        "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "MEDIA_S3_REGION": "us-east-1",
    }


def postgres_env(ctx: StartContext) -> dict[str, str]:
    """A fresh database in the session's PostgreSQL cluster for this kind."""
    db = "mk_contract_" + "".join(c if c.isalnum() else "_" for c in ctx.name)
    return {
        "MEDIAKIT_DATABASE_URL": servers.create_pg_database(ctx.fixtures["postgres_server"], db)
    }


@attrs.define
class Api:
    """A running reference server and HTTP clients for it (admin, user, anonymous)."""

    kind: str
    base_url: str
    env: dict[str, str]
    log_path: Path
    admin: httpx.Client
    user: httpx.Client
    anon: httpx.Client
    raw: httpx.Client
    """A client without base URL or token, for the URLs the server hands out."""

    @property
    def uses_s3(self) -> bool:
        """Whether objects live on an S3 server (presigned URLs point there)."""
        return self.env.get("MEDIAKIT_STORAGE") == "s3"

    def absolute(self, url: str) -> str:
        """Resolve a URL handed out by the server (it may be relative to the server)."""
        return str(httpx.URL(self.base_url).join(url))

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """GET a handed-out URL without credentials, as a browser would."""
        return self.raw.get(self.absolute(url), headers=dict(headers or {}))

    def fetch_once_expired(self, url: str, expires_at: str, grace: float = 3.0) -> httpx.Response:
        """GET a handed-out URL as soon as it has expired: wait until ``expires_at`` (the
        ISO time the server handed out with it), then ask every 0.1 s until the answer is
        no longer 200 or ``grace`` seconds have passed (clock skew, a slow server). With a
        short TTL this waits for the expiry itself, not a fixed sleep with a margin."""
        expires = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        time.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()))
        deadline = time.monotonic() + grace
        while True:
            r = self.fetch(url)
            if r.status_code != 200 or time.monotonic() > deadline:
                return r
            time.sleep(0.1)

    def log_tail(self, n: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # --- helpers over the API -------------------------------------------------------
    def upload_images(
        self,
        files: Sequence[tuple[str, bytes, str]],
        *,
        title: str | None = None,
        visible: bool | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        """POST files to the image upload endpoint; returns the raw response."""
        data: dict[str, str] = {}
        if title is not None:
            data["title"] = title
        if visible is not None:
            data["visible"] = "true" if visible else "false"
        return (client or self.admin).post(
            "/api/v1/admin/images/upload",
            files=[("files", f) for f in files],
            data=data,
        )

    def create_image(
        self, title: str, *, visible: bool = True, content: bytes | None = None
    ) -> dict[str, Any]:
        """Upload one JPEG, wait until it is processed, and return its (admin) JSON.

        Users see an image only once it is ``ready``, so tests that go on to read it as
        a user start from there.
        """
        r = self.upload_images(
            [(f"{title}.jpg", content or jpeg_small(), "image/jpeg")], title=title, visible=visible
        )
        assert r.status_code == 201, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        assert len(items) == 1
        return self.wait_image(items[0]["id"])

    def create_set(self, title: str, *, visible: bool = True, **extra: Any) -> dict[str, Any]:
        """Create a music set and return its JSON."""
        r = self.admin.post(
            "/api/v1/admin/music-sets", json={"title": title, "visible": visible, **extra}
        )
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def upload_tracks(
        self, set_id: str, files: Sequence[tuple[str, bytes, str]], *, title: str | None = None
    ) -> httpx.Response:
        """POST files to a set's track upload endpoint."""
        return self.admin.post(
            f"/api/v1/admin/music-sets/{set_id}/tracks",
            files=[("files", f) for f in files],
            data={"title": title} if title is not None else {},
        )

    def wait_image(self, image_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the admin GET until the image is no longer pending/processing."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.admin.get(f"/api/v1/admin/images/{image_id}")
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["status"] in ("ready", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"image {image_id} still {body['status']} after {timeout}s")
            time.sleep(0.1)

    def wait_track(self, set_id: str, track_id: str, timeout: float = 45.0) -> dict[str, Any]:
        """Poll the admin set detail until the track is no longer pending/processing."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.admin.get(f"/api/v1/admin/music-sets/{set_id}")
            assert r.status_code == 200, r.text
            (track,) = [t for t in r.json()["tracks"] if t["id"] == track_id]
            if track["status"] in ("ready", "failed"):
                return dict(track)
            if time.monotonic() > deadline:
                raise AssertionError(f"track {track_id} still {track['status']} after {timeout}s")
            time.sleep(0.1)

    def walk(self, client: httpx.Client, path: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every item of a paginated list, following ``next_cursor``."""
        items: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"limit": limit}
        for _ in range(1000):
            r = client.get(path, params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            items.extend(body["items"])
            if not body.get("next_cursor"):
                return items
            params = {"limit": limit, "cursor": body["next_cursor"]}
        raise AssertionError(f"{path}: pagination did not end")


@functools.lru_cache(maxsize=1)
def jpeg_small() -> bytes:
    """A small landscape JPEG (400 x 300)."""
    return jpeg_bytes(400, 300)


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has ``status`` and the contract's JSON error shape (and ``code`` if given)."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert isinstance(err.get("code"), str), body
    assert err["code"], body
    assert err["code"] == err["code"].lower(), body
    assert " " not in err["code"], body
    assert isinstance(err.get("message"), str), body
    assert err["message"], body
    if code is not None:
        assert err["code"] == code, body
    return err


def client(base_url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30.0)


def start_server(
    kind: ServerKind, name: str, tmp: Path, extra_env: Mapping[str, str]
) -> tuple[subprocess.Popen[bytes], str, dict[str, str], Path]:
    """Start ``kind`` on a free port and wait until ``GET /healthz`` answers 200."""
    port = servers.free_port()
    (tmp / "objects").mkdir(parents=True, exist_ok=True)
    env = {
        **BASE_ENV,
        "MEDIAKIT_HOST": "127.0.0.1",
        "MEDIAKIT_PORT": str(port),
        "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp / 'mediakit.db'}",
        "MEDIAKIT_STORAGE_ROOT": str(tmp / "objects"),
        **kind.env,
        **extra_env,
    }
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        proc = subprocess.Popen(
            list(kind.command),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} server exited with {proc.returncode}:\n"
                f"{log_path.read_text(errors='replace')[-3000:]}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            servers.stop_process(proc)
            raise RuntimeError(
                f"{name} server did not answer /healthz within 60 s:\n"
                f"{log_path.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.1)
    return proc, base_url, env, log_path
