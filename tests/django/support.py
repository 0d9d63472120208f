"""Django set-up for the test session: configured once, on first use, by whoever needs it.

Used by tests/django and by the ``django`` entry of the repository contract suite
(tests/repositories/conftest.py), so it does not rely on a conftest being loaded.
Settings are configured in-process with ``settings.configure`` (nothing else in the
session uses Django), the database is a SQLite file in a temporary directory removed
at exit, migrated once; PostgreSQL databases are added as extra aliases on demand.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from examples.django_server.config import databases_from_url

__all__ = [
    "ADMIN_TOKEN",
    "USER_TOKEN",
    "add_database",
    "clear_tables",
    "django_repositories",
    "ensure_django",
]

ADMIN_TOKEN = "django-test-admin-token"
USER_TOKEN = "django-test-user-token"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _settings(db_dir: Path) -> dict[str, Any]:
    return {
        "DEBUG": False,
        "SECRET_KEY": "mediakit-django-tests-not-secret-0123456789abcdefghijklmnop",
        "ALLOWED_HOSTS": ["testserver", "127.0.0.1", "localhost"],
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "mediakit_django",
            "tests.django.shop.catalog",  # a FileField model (the storage backend's tests)
        ],
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        "ROOT_URLCONF": "tests.django.urls",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        "DATABASES": databases_from_url(f"sqlite:///{db_dir / 'django.db'}"),
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "APPEND_SLASH": False,
        "STATIC_URL": "/static/",
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "MEDIAKIT": {
            "storage_backend": "memory",
            "job_runner": "inline",
            "signing_secret": "django-tests-signing-secret-0123456789abcdef",
            "TOKENS": {
                ADMIN_TOKEN: {"id": "test-admin", "is_admin": True},
                USER_TOKEN: {"id": "test-user", "is_admin": False},
            },
        },
    }


def ensure_django() -> None:
    """Configure Django for this process (once) and migrate the default database."""
    with _lock:
        if _state.get("ready"):
            return
        import django
        from django.conf import settings
        from django.core.management import call_command

        db_dir = Path(tempfile.mkdtemp(prefix="mediakit-django-"))
        atexit.register(shutil.rmtree, db_dir, True)
        settings.configure(**_settings(db_dir))
        django.setup()
        call_command("migrate", verbosity=0)
        _state["ready"] = True
        _state["dir"] = db_dir


def add_database(alias: str, url: str) -> None:
    """Add (once) a database alias for ``url`` and migrate it."""
    ensure_django()
    with _lock:
        if alias in _state.setdefault("aliases", set()):
            return
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        config = databases_from_url(url)["default"]
        settings.DATABASES[alias] = config
        connections.settings[alias] = connections.configure_settings(settings.DATABASES)[alias]
        call_command("migrate", database=alias, verbosity=0)
        _state["aliases"].add(alias)


def clear_tables(alias: str = "default") -> None:
    """Delete every mediakit row of database ``alias``."""
    from mediakit_django.models import MediaImage, MediaMusicSet, MediaTrack

    MediaTrack.objects.using(alias).all().delete()
    MediaMusicSet.objects.using(alias).all().delete()
    MediaImage.objects.using(alias).all().delete()


def django_repositories(alias: str = "default") -> Any:
    """Fresh, empty :class:`DjangoRepositories` on ``alias``."""
    ensure_django()
    from mediakit_django.repositories import DjangoRepositories

    clear_tables(alias)
    return DjangoRepositories(alias)
