"""The process-wide :class:`~mediakit.service.MediaKit` of a Django project.

Built lazily on first use (after Django is set up and, under gunicorn, inside the
worker process, so job-runner threads are never forked) from :func:`conf.mediakit_settings`
with :class:`~mediakit_django.repositories.DjangoRepositories`, and closed at exit.
"""

from __future__ import annotations

import atexit
import threading

from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from mediakit.repositories import Repositories
from mediakit.service import LOCAL_PATH, MediaKit, build_service
from mediakit_django import conf

__all__ = ["get_kit", "set_kit", "url_prefix"]

_lock = threading.Lock()
_kit: MediaKit | None = None


def url_prefix() -> str:
    """Where ``mediakit_django.urls`` is included (``MEDIAKIT["URL_PREFIX"]`` or reversed)."""
    configured = conf.adapter_options()["URL_PREFIX"]
    if configured is not None:
        return str(configured).rstrip("/")
    try:
        probe = reverse("mediakit:local-file", kwargs={"key": "x"})
    except NoReverseMatch:
        return ""
    suffix = f"{LOCAL_PATH}/x"
    if not probe.endswith(suffix):
        raise ImproperlyConfigured(f"cannot find the mediakit URL prefix from {probe!r}")
    return probe[: -len(suffix)].rstrip("/")


def _build() -> MediaKit:
    options = conf.adapter_options()
    settings = conf.mediakit_settings()
    repos: Repositories | None = None
    if options["REPOSITORIES"] == "orm":
        from mediakit_django.repositories import DjangoRepositories

        repos = DjangoRepositories(options["DATABASE_ALIAS"])
    return build_service(settings, repos=repos, prefix=url_prefix())


def get_kit() -> MediaKit:
    """The project's kit, built on first call (thread-safe)."""
    global _kit
    kit = _kit
    if kit is not None:
        return kit
    with _lock:
        if _kit is None:
            _kit = _build()
            atexit.register(_close_at_exit, _kit)
        return _kit


def set_kit(kit: MediaKit | None) -> MediaKit | None:
    """Install ``kit`` (tests, custom wiring); ``None`` rebuilds on next use. Returns the old one."""
    global _kit
    with _lock:
        old, _kit = _kit, kit
    return old


def _close_at_exit(kit: MediaKit) -> None:
    kit.close()
