"""Django settings of the reference project, all from the environment.

``MEDIAKIT_DATABASE_URL`` becomes ``DATABASES``; every other mediakit variable is read
by ``mediakit_django`` through ``mediakit.Settings.from_env``.
"""

from __future__ import annotations

import os
import secrets

from examples.django_server.config import databases_from_url, demo_tokens, server_kind
from mediakit.settings import Settings

_mk = Settings.from_env()
_tokens = demo_tokens()
_async = server_kind() == "asgi"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = os.environ.get("DJANGO_DEBUG", "").lower() in ("1", "true", "yes")
ALLOWED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    os.environ.get("MEDIAKIT_HOST", "127.0.0.1"),
    *filter(None, os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")),
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mediakit_django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if _async:
    # the same middleware without a thread hop per hook on the API (see the module)
    MIDDLEWARE = [
        "examples.django_server.middleware.Inline" + name.rsplit(".", 1)[1] for name in MIDDLEWARE
    ]
else:
    # messages storage built only when a request uses it (see the module)
    MIDDLEWARE = [
        "examples.django_server.middleware.LazyMessageMiddleware"
        if name.endswith(".MessageMiddleware")
        else name
        for name in MIDDLEWARE
    ]
ROOT_URLCONF = "examples.django_server.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "examples.django_server.wsgi.application"
if _async:
    ASGI_APPLICATION = "examples.django_server.asgi.application"
DATABASES = databases_from_url(_mk.database_url, _mk.database_timeout)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # one SQLite connection per thread, kept: opening one (with its PRAGMAs) per request
    # cost about 1 ms of CPU, more than the query
    DATABASES["default"]["CONN_MAX_AGE"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
STATIC_URL = "/static/"
APPEND_SLASH = False

MEDIAKIT = {
    "TOKENS": {
        _tokens.admin: {"id": "demo-admin", "is_admin": True},
        _tokens.user: {"id": "demo-user", "is_admin": False},
    },
    "ASYNC_VIEWS": _async,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
