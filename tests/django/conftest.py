"""Fixtures for the Django adapter tests: Django configured once, a kit per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mediakit.service import MediaKit, build_service
from tests.django.support import clear_tables, ensure_django


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    """A kit over the Django ORM (empty tables), a memory store and the inline runner."""
    ensure_django()
    from mediakit_django.conf import mediakit_settings
    from mediakit_django.kit import set_kit
    from mediakit_django.repositories import DjangoRepositories

    clear_tables()
    built = build_service(mediakit_settings(), repos=DjangoRepositories(), prefix="")
    old = set_kit(built)
    try:
        yield built
    finally:
        set_kit(old)
        built.close()
