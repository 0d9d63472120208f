"""The catalog app."""

from __future__ import annotations

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The shop's catalogue."""

    name = "tests.django.shop.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
