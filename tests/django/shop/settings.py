"""Settings of the shop project (all from the environment the test sets)."""

from __future__ import annotations

import os

from examples.django_server.config import databases_from_url

SECRET_KEY = "shop-not-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "tests.django.shop.catalog",
    "mediakit_django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.django.shop.urls"
TEMPLATES = [
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
]
DATABASES = databases_from_url(os.environ["SHOP_DATABASE_URL"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ASYNC = os.environ.get("SHOP_SERVER", "wsgi") == "asgi"

# the project's files on mediakit's storage backend: same bucket and credentials as
# mediakit (MEDIA_* variables), under the key prefix "shop"
STORAGES = {
    "default": {
        "BACKEND": "mediakit_django.storage.MediaKitStorage",
        "OPTIONS": {"location": "shop"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MEDIAKIT = {
    "PRINCIPAL_RESOLVER": "tests.django.shop.accounts.api_key_or_session_principal",
    "ASYNC_VIEWS": ASYNC,
    "job_runner": "inline",
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
