"""Start-up checks: what would otherwise fail at first use, said at start.

Three things a deployment can lack that mediakit only needed later, on a request or in a
job: an ffmpeg for the audio tiers, libmagic for checking uploads, and a real database
next to S3 storage. :func:`preflight` looks for each and returns a :class:`Finding`
naming the setting to change; it is run by:

- :func:`mediakit.service.build_service` (so the reference servers and every app that
  builds a kit), which logs each finding on the ``mediakit.preflight`` logger and raises
  :class:`~mediakit.errors.ConfigurationError` for an error (:func:`enforce`);
- the Django app's system checks (``manage.py check``, ``migrate``, ``runserver``);
- ``mediakit doctor`` (the checks ``ffmpeg``, ``libmagic`` and ``database``).

The checks cost a few milliseconds (ffmpeg's encoder list is read once per binary).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import attrs

from mediakit.errors import ConfigurationError
from mediakit.settings import Settings

__all__ = ["Finding", "enforce", "implicit_database", "preflight"]

log = logging.getLogger("mediakit.preflight")

Level = Literal["error", "warning"]


@attrs.frozen
class Finding:
    """One problem found at start-up."""

    check: Literal["ffmpeg", "libmagic", "database"]
    level: Level
    setting: str
    """The environment variable to change (or the package to install, for libmagic)."""
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


_DEFAULT_DATABASE_URL = str(attrs.fields(Settings).database_url.default)


def implicit_database(settings: Settings) -> bool:
    """Whether ``database_url`` is the built-in default (an embedded SQLite file)."""
    return settings.database_url == _DEFAULT_DATABASE_URL


def preflight(
    settings: Settings,
    *,
    local_processing: bool | None = None,
    uses_database_url: bool = True,
) -> list[Finding]:
    """What is missing for ``settings``; empty when all is well.

    ``local_processing``: whether this process encodes audio itself (default: unless
    ``MEDIAKIT_JOB_RUNNER=dramatiq``, whose workers need the ffmpeg instead; run
    ``mediakit doctor`` there). ``uses_database_url``: whether the repositories come
    from ``MEDIAKIT_DATABASE_URL`` (not the Django ORM's).
    """
    found: list[Finding] = []
    if local_processing is None:
        local_processing = settings.job_runner != "dramatiq"
    if settings.audio_pre_encode and local_processing:
        from mediakit.processing.audio import find_ffmpeg

        try:
            find_ffmpeg(settings)
        except ConfigurationError as exc:
            found.append(
                Finding(
                    "ffmpeg",
                    "error",
                    "MEDIA_FFMPEG_PATH",
                    f"{exc.message.split(': ', 1)[-1]}. Every track would end 'failed'. "
                    "Or set MEDIA_AUDIO_PRE_ENCODE=false to serve the originals only.",
                )
            )
    from mediakit.uploads.sniff import libmagic_problem

    problem = libmagic_problem()
    if problem is not None:
        found.append(Finding("libmagic", "error", "libmagic", problem + "."))
    if uses_database_url and settings.storage_backend == "s3" and implicit_database(settings):
        found.append(
            Finding(
                "database",
                "warning",
                "MEDIAKIT_DATABASE_URL",
                f"not set: the media rows go to an embedded SQLite file "
                f"({settings.database_url.removeprefix('sqlite:///')}) in this process's "
                "working directory, while the objects are on S3. Every replica (and every "
                "redeploy of a container) gets its own empty database. Set "
                "MEDIAKIT_DATABASE_URL (postgresql+psycopg://... for several processes, or "
                "an explicit sqlite:/// path for one).",
            )
        )
    return found


def enforce(findings: Sequence[Finding], *, logger: logging.Logger = log) -> None:
    """Log every finding; raise :class:`ConfigurationError` for the first error."""
    for f in findings:
        logger.log(logging.ERROR if f.level == "error" else logging.WARNING, "%s", f)
    for f in findings:
        if f.level == "error":
            raise ConfigurationError(f.setting, f.message)
