"""Environment -> Django configuration for the reference project (importable before
Django is configured)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa

from mediakit.errors import ConfigurationError

__all__ = [
    "DemoTokens",
    "databases_from_url",
    "demo_tokens",
    "server_kind",
    "sqlite_transaction_mode_supported",
]

SERVER_KINDS = ("asgi", "wsgi")


@attrs.frozen
class DemoTokens:
    """The two bearer tokens of the reference server, and whether they were generated."""

    admin: str
    user: str
    generated: bool


def demo_tokens(environ: Mapping[str, str] | None = None) -> DemoTokens:
    """Tokens from MEDIAKIT_DEMO_ADMIN_TOKEN / MEDIAKIT_DEMO_USER_TOKEN, generated when unset."""
    env = os.environ if environ is None else environ
    admin = env.get("MEDIAKIT_DEMO_ADMIN_TOKEN", "").strip()
    user = env.get("MEDIAKIT_DEMO_USER_TOKEN", "").strip()
    generated = not admin or not user
    return DemoTokens(
        admin or secrets.token_urlsafe(24), user or secrets.token_urlsafe(24), generated
    )


def server_kind(environ: Mapping[str, str] | None = None) -> str:
    """``MEDIAKIT_DJANGO_SERVER``: ``asgi`` (uvicorn, default) or ``wsgi`` (gunicorn)."""
    env = os.environ if environ is None else environ
    kind = env.get("MEDIAKIT_DJANGO_SERVER", "").strip().lower() or "asgi"
    if kind not in SERVER_KINDS:
        raise ConfigurationError(
            "MEDIAKIT_DJANGO_SERVER", f"must be one of {', '.join(SERVER_KINDS)}; got {kind!r}"
        )
    return kind


def sqlite_transaction_mode_supported() -> bool:
    """Whether the installed Django takes SQLite's ``transaction_mode`` (Django 5.1+)."""
    import django

    return django.VERSION >= (5, 1)


def databases_from_url(url: str, timeout_s: float = 5) -> dict[str, dict[str, Any]]:
    """Django ``DATABASES`` for a mediakit database URL (SQLite file or PostgreSQL).

    SQLite runs IMMEDIATE transactions in WAL mode, so concurrent writers queue
    instead of failing with "database is locked" (the ``transaction_mode`` and
    ``init_command`` options need Django 5.1; on Django 4.2 and 5.0 only the busy
    timeout is set: use PostgreSQL there when several requests write at once). A writer
    waits at most ``timeout_s`` (``MEDIAKIT_DATABASE_TIMEOUT_SECONDS``) for the lock,
    PostgreSQL's connect timeout is the same in whole seconds, at least 1 (libpq takes
    whole seconds and reads 0 as "wait forever"), and past it the request is a 503 with
    Retry-After.
    """
    try:
        u = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError("MEDIAKIT_DATABASE_URL", f"not a database URL: {exc}") from exc
    backend = u.get_backend_name()
    if backend == "sqlite":
        name = u.database or ""
        if name in ("", ":memory:"):
            raise ConfigurationError(
                "MEDIAKIT_DATABASE_URL", "the Django project needs a SQLite file, not :memory:"
            )
        Path(name).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"timeout": timeout_s}
        if sqlite_transaction_mode_supported():
            options["transaction_mode"] = "IMMEDIATE"
            options["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(Path(name).expanduser()),
                "OPTIONS": options,
            }
        }
    if backend == "postgresql":
        return {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": u.database or "",
                "USER": u.username or "",
                "PASSWORD": u.password or "",
                "HOST": u.host or "",
                "PORT": str(u.port or ""),
                "OPTIONS": {
                    "connect_timeout": max(1, round(timeout_s)),
                    **{k: v for k, v in u.query.items() if isinstance(v, str)},
                },
                "CONN_HEALTH_CHECKS": True,
            }
        }
    raise ConfigurationError(
        "MEDIAKIT_DATABASE_URL",
        f"the Django project supports sqlite and postgresql URLs; got {backend!r}",
    )
