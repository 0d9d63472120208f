"""The layering holds at import time: the pure core loads no I/O library, and the
import-linter contracts in pyproject.toml (core -> shells -> service -> adapters) are kept
(that check is about the source tree: it lives in test_quality.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = (
    "mediakit",
    "mediakit.values",
    "mediakit.contract",
    "mediakit.errors",
    "mediakit.models",
    "mediakit.keys",
    "mediakit.settings",
    "mediakit.clock",
    "mediakit.http",
    "mediakit.presign",
    "mediakit.storage",  # the protocols and values; the stores load on first use
    "mediakit.uploads.limits",
    "mediakit.service._policy",
)
IO_LIBRARIES = (
    "boto3",
    "botocore",
    "aioboto3",
    "aiobotocore",
    "aiohttp",
    "PIL",
    "magic",
    "sqlalchemy",
    "psycopg",
    "redis",
    "django",
    "fastapi",
    "starlette",
)


def _loaded_after(imports: tuple[str, ...]) -> list[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in imports)
        + f"print(json.dumps(sorted(m for m in {list(IO_LIBRARIES)!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("module", CORE)
def test_importing_the_core_loads_no_io_library(module: str) -> None:
    assert _loaded_after((module,)) == []


def test_the_probe_sees_an_io_library_when_one_is_loaded() -> None:
    """The check above can fail: a shell does load its library."""
    assert "boto3" in _loaded_after(("mediakit.storage.s3",))


def test_lazy_exports_still_resolve() -> None:
    import mediakit.service as service
    import mediakit.storage as storage
    import mediakit.uploads as uploads

    for package in (storage, uploads, service):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
    with pytest.raises(AttributeError):
        _ = storage.NoSuchThing  # type: ignore[attr-defined]
