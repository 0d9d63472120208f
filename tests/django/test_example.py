"""The reference project: environment -> Django configuration, and a real start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from examples.django_server.config import (
    databases_from_url,
    demo_tokens,
    server_kind,
    sqlite_transaction_mode_supported,
)

from mediakit.errors import ConfigurationError
from tests import servers

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_sqlite_url_becomes_an_immediate_wal_sqlite_database(tmp_path: Path) -> None:
    """SQLite files get IMMEDIATE transactions (writers queue) where Django has the option
    (5.1+; older versions would refuse it with a TypeError) and their directory created."""
    import django

    db = databases_from_url(f"sqlite:///{tmp_path}/sub/m.db")["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "sub" / "m.db")
    assert sqlite_transaction_mode_supported() == (django.VERSION >= (5, 1))
    if django.VERSION >= (5, 1):
        assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    else:
        assert "transaction_mode" not in db["OPTIONS"]
        assert "init_command" not in db["OPTIONS"]
    assert db["OPTIONS"]["timeout"] == 5  # MEDIAKIT_DATABASE_TIMEOUT_SECONDS's default
    assert (tmp_path / "sub").is_dir()


def test_a_postgresql_url_becomes_django_postgresql_settings() -> None:
    """Host, port, user, password, database and query options are mapped."""
    db = databases_from_url("postgresql+psycopg://u:p%40ss@db.example:5433/media?sslmode=require")
    assert db["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert (db["default"]["USER"], db["default"]["PASSWORD"]) == ("u", "p@ss")
    assert (db["default"]["HOST"], db["default"]["PORT"], db["default"]["NAME"]) == (
        "db.example",
        "5433",
        "media",
    )
    assert db["default"]["OPTIONS"] == {"sslmode": "require", "connect_timeout": 5}


def test_the_database_timeout_reaches_sqlite_and_postgresql() -> None:
    """MEDIAKIT_DATABASE_TIMEOUT_SECONDS: SQLite's busy timeout, PostgreSQL's connect timeout."""
    sqlite = databases_from_url("sqlite:////tmp/mk-example/m.db", 2)["default"]["OPTIONS"]
    assert sqlite["timeout"] == 2
    pg = databases_from_url("postgresql+psycopg://u@h/d?connect_timeout=9", 2)["default"]
    assert pg["OPTIONS"]["connect_timeout"] == "9"  # an explicit URL option wins
    assert databases_from_url("postgresql+psycopg://u@h/d", 2)["default"]["OPTIONS"] == {
        "connect_timeout": 2
    }


@pytest.mark.parametrize(("timeout", "connect"), [(0.2, 1), (0.5, 1), (2.5, 2), (3.0, 3)])
def test_a_fractional_database_timeout_gives_postgresql_whole_seconds(
    timeout: float, connect: int
) -> None:
    """SQLite takes the fraction; libpq takes whole seconds and reads 0 as no timeout at all,
    so PostgreSQL's connect timeout is rounded and at least 1 second."""
    sqlite = databases_from_url("sqlite:////tmp/mk-example/m.db", timeout)["default"]
    assert sqlite["OPTIONS"]["timeout"] == timeout
    pg = databases_from_url("postgresql+psycopg://u@h/d", timeout)["default"]["OPTIONS"]
    assert pg == {"connect_timeout": connect}


@pytest.mark.parametrize("url", ["mysql://x@y/z", "sqlite://", "not a url"])
def test_unsupported_database_urls_name_the_variable(url: str) -> None:
    """Other backends, in-memory SQLite and garbage fail naming MEDIAKIT_DATABASE_URL."""
    with pytest.raises(ConfigurationError, match="MEDIAKIT_DATABASE_URL"):
        databases_from_url(url)


def test_server_kind_and_demo_tokens_come_from_the_environment() -> None:
    """MEDIAKIT_DJANGO_SERVER picks asgi/wsgi; unset demo tokens are generated."""
    assert server_kind({}) == "asgi"
    assert server_kind({"MEDIAKIT_DJANGO_SERVER": "WSGI"}) == "wsgi"
    with pytest.raises(ConfigurationError, match="MEDIAKIT_DJANGO_SERVER"):
        server_kind({"MEDIAKIT_DJANGO_SERVER": "cgi"})
    fixed = demo_tokens({"MEDIAKIT_DEMO_ADMIN_TOKEN": "a", "MEDIAKIT_DEMO_USER_TOKEN": "u"})
    assert (fixed.admin, fixed.user, fixed.generated) == ("a", "u", False)
    made = demo_tokens({})
    assert made.generated
    assert made.admin != made.user


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_project_starts_prints_tokens_and_serves_page_admin_and_api(
    tmp_path: Path, kind: str
) -> None:
    """`python -m examples.django_server` migrates, prints generated tokens and serves
    the web page, the admin (with its CSS) and the API with the printed admin token."""
    port = servers.free_port()
    log = tmp_path / "server.log"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MEDIAKIT_", "MEDIA_", "DJANGO_"))
    }
    env |= {
        "MEDIAKIT_PORT": str(port),
        "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp_path}/db/m.db",
        "MEDIAKIT_STORAGE_ROOT": str(tmp_path / "objects"),
        "MEDIAKIT_DJANGO_SERVER": kind,
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.django_server"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        admin_token = text.split("admin: ", 1)[1].split()[0]
        page = httpx.get(f"{base}/")
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        assert httpx.get(f"{base}/admin/login/").status_code == 200
        assert httpx.get(f"{base}/static/admin/css/base.css").status_code == 200
        r = httpx.get(
            f"{base}/api/v1/admin/images", headers={"Authorization": f"Bearer {admin_token}"}
        )
        assert r.json() == {"items": [], "next_cursor": None}
        # the access log (gunicorn's default line under WSGI, uvicorn's under ASGI)
        deadline = time.monotonic() + 10
        while '"GET /api/v1/admin/images HTTP/1.1" 200' not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        if kind == "wsgi":
            assert "127.0.0.1 - - [" in log.read_text()
    finally:
        servers.stop_process(proc)


@pytest.mark.parametrize("name", ["healthz", "ahealthz"])
def test_the_readiness_probe_is_csrf_exempt_like_the_api_views(name: str) -> None:
    """Django's CSRF check lets an unsafe request without a token through to the probe
    (under ASGI the check would otherwise hop to a thread, as the API's views never do)."""
    from tests.django.support import ensure_django

    ensure_django()
    from django.http import HttpResponse
    from django.middleware.csrf import CsrfViewMiddleware
    from django.test import RequestFactory
    from examples.django_server import urls

    view = getattr(urls, name)
    check = CsrfViewMiddleware(lambda r: HttpResponse())
    request = RequestFactory().post("/healthz")
    check.process_request(request)
    assert check.process_view(request, view, (), {}) is None
    refused = check.process_view(request, lambda r: HttpResponse(), (), {})
    assert refused is not None
    assert refused.status_code == 403
