"""The oldest Django that pyproject allows (``django>=4.2``) passes the Django tests.

The suite runs on the Django of the environment (5.x); this test installs the latest
Django 4.2 into a directory put in front of ``PYTHONPATH`` (everything else comes from
the running environment, so it is one small download) and runs the Django adapter's tests
with it, in-process ones and the third-party project over HTTP (gunicorn and uvicorn).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import need

pytestmark = [pytest.mark.slow, pytest.mark.s3]

REPO_ROOT = Path(__file__).resolve().parents[2]
OLDEST = "django>=4.2,<4.3"


def test_the_django_tests_pass_on_django_4_2(tmp_path: Path) -> None:
    """``pip install --target`` Django 4.2, then tests/django under it."""
    target = tmp_path / "django42"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            OLDEST,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    need(r.returncode == 0, f"cannot install {OLDEST} (no network?): {r.stderr[-500:]}")
    path = os.pathsep.join(
        p for p in (str(target), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env = {**os.environ, "PYTHONPATH": path}
    version = subprocess.run(
        [sys.executable, "-c", "import django; print(django.get_version())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("4.2."), version
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not postgres",
            "tests/django",
            "--deselect",
            "tests/django/test_django_versions.py",
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, f"on Django {version}:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
    assert " passed" in r.stdout
