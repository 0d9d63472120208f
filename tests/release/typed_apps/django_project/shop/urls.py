"""The shop's URLs: its own page and mediakit's API under ``media/``."""

from __future__ import annotations

from django.urls import include, path

from shop import views

urlpatterns = [
    path("catalogue/", views.catalogue),
    path("media/", include("mediakit_django.urls")),
]
