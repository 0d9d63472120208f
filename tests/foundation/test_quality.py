"""The code stays typed and linted: ruff and ``mypy --strict`` run in the suite, so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import need

ROOT = Path(__file__).resolve().parents[2]
LINTED = ["src", "adapters", "tests", "benchmarks", "examples", "scripts", "noxfile.py"]


def _tool(name: str) -> str:
    exe = shutil.which(name) or str(Path(sys.executable).with_name(name))
    need(Path(exe).exists(), f"{name} is not installed: pip install -e '.[dev]'")
    return exe


def test_the_import_linter_contracts_are_kept() -> None:
    """The layering of pyproject.toml's [tool.importlinter] contracts holds."""
    r = subprocess.run([_tool("lint-imports")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "3 kept, 0 broken" in r.stdout


def test_ruff_check_and_format_are_clean() -> None:
    ruff = _tool("ruff")
    check = subprocess.run([ruff, "check", *LINTED], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run(
        [ruff, "format", "--check", *LINTED], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean_on_src_and_adapters() -> None:
    mypy = _tool("mypy")
    r = subprocess.run(
        [mypy, "--strict", "--cache-dir", str(ROOT / ".mypy_cache"), "src", "adapters"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
