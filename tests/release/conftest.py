"""Fixtures of the release tests: one wheel per test session, shared by every test here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.release import installs


@pytest.fixture(scope="session")
def release_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once from this tree in an isolated build environment."""
    return installs.build_wheel(tmp_path_factory.mktemp("dist"))
