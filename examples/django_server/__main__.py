"""Start the Django reference server: ``python -m examples.django_server``.

Applies migrations, creates the bucket (or storage directory) if missing, then serves
on MEDIAKIT_HOST (127.0.0.1) : MEDIAKIT_PORT (8000) with uvicorn (ASGI, async views)
or, with ``MEDIAKIT_DJANGO_SERVER=wsgi``, gunicorn (WSGI, sync views, one process
with threads so the in-process upload limiter sees every request).
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import sys
from typing import Any

from mediakit.errors import ConfigurationError

_SHM = "/dev/shm"  # noqa: S108 - gunicorn's worker heartbeat, a file it creates itself


def _freeze_startup_objects() -> None:
    """Keep what start-up allocated (Django, the URL patterns, the kit) out of the
    garbage collector's scans: every full collection would walk it again, which cost
    about 30 us per request on average on the benchmark machine (``gc.freeze``, as
    Python's documentation suggests for long-running servers)."""
    gc.collect()
    gc.freeze()


def _build_kit(worker: Any) -> None:
    from mediakit_django.kit import get_kit

    get_kit()
    _freeze_startup_objects()


def access_logger_class() -> type:
    """gunicorn's logger, building only the access-log atoms its format names.

    gunicorn's ``Logger.atoms`` adds every request header, response header and environ
    variable to the atoms of each access line (then escapes them all), about 3 % of the
    CPU of a seek; the default format uses none of them. With a format naming no
    ``{...}i``, ``{...}o`` or ``{...}e`` atom, this one builds gunicorn's other atoms
    only, with gunicorn's own code (``super().atoms`` on a request and an environ
    stripped to what they are read from), so the line is byte for byte gunicorn's.
    """
    from gunicorn.glogging import Logger

    class AccessLogger(Logger):  # type: ignore[misc]
        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
            if "{" in self.cfg.access_log_format:
                return super().atoms(resp, req, environ, request_time)
            return super().atoms(
                _NoHeaders(resp),
                (),
                {k: environ[k] for k in _ATOM_ENVIRON if k in environ},
                request_time,
            )

    return AccessLogger


_ATOM_ENVIRON = (
    "REMOTE_ADDR",
    "REQUEST_METHOD",
    "RAW_URI",
    "SERVER_PROTOCOL",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_REFERER",
    "HTTP_USER_AGENT",
    "HTTP_AUTHORIZATION",  # gunicorn's %(u)s: the Basic auth user
)
"""The environ keys gunicorn's atoms other than ``{...}e`` read."""


class _NoHeaders:
    """A gunicorn response as its access atoms see it, without its headers."""

    headers: tuple[()] = ()

    def __init__(self, resp: Any) -> None:
        self.status = resp.status
        self.sent = getattr(resp, "sent", None)


def _serve_wsgi(host: str, port: int) -> None:
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": 16,
                "accesslog": "-",
                "logger_class": access_logger_class(),
                "timeout": 120,
                "graceful_timeout": 5,
                # the worker's heartbeat file in memory: on disk, its fchmod per loop
                # turn costs every request (gunicorn's own advice for containers)
                "worker_tmp_dir": _SHM if os.path.isdir(_SHM) else None,
            }
            for key, value in options.items():
                self.cfg.set(key, value)
            # the kit (boto3 client, database, job runner) at worker start, not on its
            # first request; in the worker, so no job-runner thread is forked
            self.cfg.set("post_worker_init", _build_kit)

        def load(self) -> Any:
            from examples.django_server.wsgi import application

            return application

    _Gunicorn().run()


def _serve_asgi(host: str, port: int) -> None:
    import uvicorn

    from examples.django_server.asgi import application
    from mediakit.uvicorn import http_protocol

    _freeze_startup_objects()
    # uvicorn's httptools protocol without its two copies of every body byte
    uvicorn.run(
        application, host=host, port=port, lifespan="on", log_level="info", http=http_protocol()
    )


def main() -> int:
    """Configure from the environment, migrate, and serve until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        import django
        from django.core.exceptions import ImproperlyConfigured
        from django.core.management import call_command
        from django.core.management.base import SystemCheckError
        from django.db import connections

        from examples.django_server.config import demo_tokens, server_kind
        from mediakit.settings import Settings
        from mediakit.storage import build_object_store, ensure_bucket

        settings = Settings.from_env()
        host = os.environ.get("MEDIAKIT_HOST", "127.0.0.1")
        port_raw = os.environ.get("MEDIAKIT_PORT", "8000")
        if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
            raise ConfigurationError(
                "MEDIAKIT_PORT", f"must be a TCP port number; got {port_raw!r}"
            )
        kind = server_kind()
        tokens = demo_tokens()
        # fixed for every process of this server (gunicorn workers re-read settings)
        os.environ["MEDIAKIT_DEMO_ADMIN_TOKEN"] = tokens.admin
        os.environ["MEDIAKIT_DEMO_USER_TOKEN"] = tokens.user
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_server.settings")
        django.setup()
        # the system checks first: mediakit's say at start what would fail at first use
        # (no ffmpeg while audio pre-encoding is on, no libmagic); errors stop the start
        call_command("check", fail_level="ERROR")
        call_command("migrate", interactive=False, verbosity=1)
        connections.close_all()  # never share a connection with forked workers
        store = build_object_store(settings)
        if hasattr(store, "ensure_bucket"):
            ensure_bucket(store)
    except (ConfigurationError, ImproperlyConfigured, SystemCheckError) as exc:
        # SystemCheckError: manage.py check's errors (mediakit's: no ffmpeg, no libmagic)
        print(f"mediakit: configuration error: {exc}", file=sys.stderr)
        return 2
    if tokens.generated:
        print(
            "mediakit demo tokens (set MEDIAKIT_DEMO_ADMIN_TOKEN / MEDIAKIT_DEMO_USER_TOKEN to fix them):\n"
            f"  admin: {tokens.admin}\n  user:  {tokens.user}",
            flush=True,
        )
    print(f"mediakit Django reference server ({kind}) on http://{host}:{port_raw}/", flush=True)
    if kind == "wsgi":
        _serve_wsgi(host, int(port_raw))
    else:
        _serve_asgi(host, int(port_raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
