"""Settings of the shop project: mediakit on S3 (``MEDIA_S3_*`` from the environment).

``SHOP_ASYNC=1`` selects mediakit's async views, for running under ASGI.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "shop-secret-key-for-the-smoke-run-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mediakit_django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "db.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
MEDIAKIT = {
    "storage_backend": "s3",
    "job_runner": "inline",
    "TOKENS": {
        "ops-token": {"id": "ops", "is_admin": True},
        "fan-token": {"id": "fan", "is_admin": False},
    },
    "ASYNC_VIEWS": os.environ.get("SHOP_ASYNC") == "1",
}
