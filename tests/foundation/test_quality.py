"""The code stays typed and linted: ruff and ``mypy --strict`` run in the suite, so CI enforces them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
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
    assert "4 kept, 0 broken" in r.stdout


def test_ruff_check_and_format_are_clean() -> None:
    ruff = _tool("ruff")
    check = subprocess.run([ruff, "check", *LINTED], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run(
        [ruff, "format", "--check", *LINTED], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_ruff_checks_complexity_and_every_exception_says_why() -> None:
    """C901 (with a max-complexity), PLR0912 and PLR0915 are on; each ``# noqa`` for
    them carries a reason in parentheses (ruff's RUF100 reports one no longer needed)."""
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["ruff"]["lint"]
    assert {"C90", "PLR0912", "PLR0915"} <= set(lint["select"])
    assert lint["mccabe"]["max-complexity"] <= 15
    noqa = re.compile(r"#\s*noqa:[^#\n]*\b(C901|PLR0912|PLR0915)\b(?P<rest>[^\n]*)")
    unexplained = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for top in ("src", "adapters", "tests", "examples", "scripts")
        for path in (ROOT / top).rglob("*.py")
        for m in noqa.finditer(path.read_text("utf-8"))
        if not re.search(r"\(\w[^)]*\)", m.group("rest"))
    ]
    assert not unexplained, unexplained


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
