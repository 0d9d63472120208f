"""System checks: warn about settings that make the repositories misbehave."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import django
from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from mediakit_django import conf

__all__ = ["check_database", "check_preflight", "check_view_mode", "register"]


def check_database(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """SQLite without ``transaction_mode: IMMEDIATE`` lets concurrent writers fail.

    ``transaction_mode`` exists from Django 5.1; on older versions every SQLite database
    is warned about (the hint is PostgreSQL or a newer Django).
    """
    options = conf.adapter_options()
    if options["REPOSITORIES"] != "orm":
        return []
    alias = options["DATABASE_ALIAS"]
    db = settings.DATABASES.get(alias)
    if db is None:
        return [
            checks.Error(
                f'MEDIAKIT["DATABASE_ALIAS"] = {alias!r} is not in settings.DATABASES.',
                id="mediakit_django.E001",
            )
        ]
    if "sqlite" in str(db.get("ENGINE", "")):
        if django.VERSION < (5, 1):
            return [
                checks.Warning(
                    f"SQLite database {alias!r} runs DEFERRED transactions (Django "
                    f"{django.get_version()} cannot make them IMMEDIATE): concurrent uploads "
                    "can fail with 'database is locked'.",
                    hint="Use PostgreSQL, or Django 5.1+ with "
                    '"OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30}.',
                    id="mediakit_django.W001",
                )
            ]
        mode = str(db.get("OPTIONS", {}).get("transaction_mode", "")).upper()
        if mode != "IMMEDIATE":
            return [
                checks.Warning(
                    f"SQLite database {alias!r} runs DEFERRED transactions: concurrent uploads "
                    "can fail with 'database is locked'.",
                    hint='Add "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30}.',
                    id="mediakit_django.W001",
                )
            ]
    return []


def check_view_mode(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """An ASGI project serving the sync views would run them all on one thread."""
    asgi = bool(getattr(settings, "ASGI_APPLICATION", None))
    if asgi and not conf.adapter_options()["ASYNC_VIEWS"]:
        return [
            checks.Warning(
                "settings.ASGI_APPLICATION is set but mediakit_django.urls mounts sync views: "
                "under ASGI Django runs sync views one at a time on a single thread, so a "
                "long upload or stream would hold up every other request.",
                hint='Set MEDIAKIT["ASYNC_VIEWS"] = True (or include "mediakit_django.urls_async").',
                id="mediakit_django.W002",
            )
        ]
    return []


def check_preflight(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """What would fail at first use (:func:`mediakit.preflight.preflight`), said at start:
    no ffmpeg while audio pre-encoding is on (E003), no libmagic (E004), an implicit
    SQLite database next to S3 storage with ``REPOSITORIES = "sql"`` (W005)."""
    from mediakit.preflight import preflight

    options = conf.adapter_options()
    found = preflight(conf.mediakit_settings(), uses_database_url=options["REPOSITORIES"] == "sql")
    ids = {"ffmpeg": "E003", "libmagic": "E004", "database": "W005"}
    out: list[checks.CheckMessage] = []
    for f in found:
        kind = checks.Error if f.level == "error" else checks.Warning
        out.append(kind(f"mediakit: {f}", id=f"mediakit_django.{ids[f.check]}"))
    return out


def register() -> None:
    """Register the checks (called from the app's ``ready``)."""
    checks.register(check_database)
    checks.register(check_view_mode)
    checks.register(check_preflight)
