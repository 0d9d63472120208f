"""The layering holds at import time: the pure core loads no I/O library, and the
import-linter contracts in pyproject.toml (core -> shells -> service -> adapters) are kept
(that check is about the source tree: it lives in test_quality.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
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
    import mediakit.cli as cli
    import mediakit.repositories as repositories
    import mediakit.service as service
    import mediakit.storage as storage
    import mediakit.uploads as uploads

    for package in (storage, uploads, service, cli, repositories):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
    with pytest.raises(AttributeError):
        _ = storage.NoSuchThing  # type: ignore[attr-defined]


def _private_modules() -> set[str]:
    import mediakit

    package = Path(mediakit.__file__).parent  # the source tree, or the installed wheel
    return {
        ".".join(p.relative_to(package.parent).with_suffix("").parts)
        for p in package.rglob("_*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }


def test_the_adapters_contract_forbids_every_private_module() -> None:
    """The import-linter contract keeping the adapters on the public API names each
    private module (its wildcards cannot match ``_*``): a new one must be added there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    (contract,) = (
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["mediakit_fastapi", "mediakit_django"]
    )
    private = _private_modules()
    assert "mediakit.repositories._cursor" in private  # the scan finds them
    missing = sorted(private - set(contract["forbidden_modules"]))
    assert not missing, f"add {missing} to the adapters contract in pyproject.toml"


def test_what_the_adapters_need_is_public() -> None:
    """The names the Django adapter took from private modules are exported publicly,
    and they are the very same objects (one implementation)."""
    from mediakit import cli, repositories, service
    from mediakit.cli import _doctor, _ops
    from mediakit.repositories import _cursor, _fields, _unavailable
    from mediakit.service import _delivery

    assert repositories.check_page_size is _cursor.check_page_size
    assert repositories.decode_cursor is _cursor.decode_cursor
    assert repositories.normalize_changes is _fields.normalize_changes
    assert repositories.TRACK_UPDATABLE is _fields.TRACK_UPDATABLE
    assert repositories.database_unavailable is _unavailable.database_unavailable
    assert cli.open_repositories is _ops.open_repositories
    assert cli.gc is _ops.gc
    assert cli.run_doctor is _doctor.run_doctor
    assert service.has_grant is _delivery.has_grant
    assert callable(cli._run_doctor)  # not shadowed by the submodule mediakit.cli._doctor
