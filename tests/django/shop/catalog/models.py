"""The shop's own model: a product with a file on the project's default storage."""

from __future__ import annotations

from django.db import models


class Product(models.Model):
    """A product and its downloadable file (a plain ``FileField``)."""

    name = models.CharField(max_length=100)
    file = models.FileField(upload_to="products/", max_length=200)

    class Meta:
        app_label = "catalog"

    def __str__(self) -> str:
        return self.name
