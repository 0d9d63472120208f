"""The app configuration: checks the ``MEDIAKIT`` settings when Django starts."""

from __future__ import annotations

import logging

from django.apps import AppConfig


class MediakitConfig(AppConfig):
    """``INSTALLED_APPS = [..., "mediakit_django"]``."""

    name = "mediakit_django"
    label = "mediakit_django"
    verbose_name = "Media (mediakit)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Validate ``settings.MEDIAKIT`` at start-up (a typo fails now, not on a request)."""
        from mediakit_django.checks import register
        from mediakit_django.conf import adapter_options, mediakit_settings

        adapter_options()
        settings = mediakit_settings()
        register()
        # Say at start what would fail at first use (ffmpeg, libmagic...): logged here,
        # since servers (gunicorn, uvicorn) do not run the system checks; the checks
        # (mediakit_django.E003...) make ``manage.py check`` and ``migrate`` fail too.
        from mediakit.preflight import log as preflight_log
        from mediakit.preflight import preflight

        sql = adapter_options()["REPOSITORIES"] == "sql"
        for finding in preflight(settings, uses_database_url=sql):
            level = logging.ERROR if finding.level == "error" else logging.WARNING
            preflight_log.log(level, "%s", finding)
