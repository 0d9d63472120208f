"""The app configuration: checks the ``MEDIAKIT`` settings when Django starts."""

from __future__ import annotations

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
        mediakit_settings()
        register()
