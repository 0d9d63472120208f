"""Fixtures: a memory-backed kit and each service twin over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mediakit.service import MediaKit
from tests.service.kit import Twin, make_kit


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    """A kit over memory parts with inline processing."""
    k = make_kit()
    yield k
    k.close()


@pytest.fixture(params=["sync", "async"])
def svc(request: pytest.FixtureRequest, kit: MediaKit) -> Twin:
    """The sync service or the async twin, called the same way."""
    return Twin(kit, request.param)
