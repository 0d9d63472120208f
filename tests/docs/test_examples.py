"""The documentation's code runs: every ```python block in docs/ and README.md is executed
in a fresh interpreter, in an empty temporary directory, with no MEDIA*/MEDIAKIT*
variables and warnings as errors. A block preceded by ``<!-- not-run -->`` is skipped
(used for snippets that need a service the suite does not start, such as a Redis broker).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_RUN = "<!-- not-run -->"
_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.M | re.S)


@attrs.frozen
class Block:
    """One ```python block: where it is, its code, and whether it is marked not-run."""

    path: str
    line: int
    code: str
    not_run: bool


def blocks(text: str, path: str) -> list[Block]:
    """Every ```python block of a Markdown text."""
    found = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, m.start()) + 1
        found.append(Block(path, line, m.group(1), before == NOT_RUN))
    return found


def _all_blocks() -> list[Block]:
    pages = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    return [b for page in pages for b in blocks(page.read_text(), str(page.relative_to(ROOT)))]


ALL = _all_blocks()


def test_the_extractor_finds_blocks_and_honours_the_marker() -> None:
    text = "x\n```python\na = 1\n```\n<!-- not-run -->\n```python\nimport redis\n```\n```bash\nls\n```\n"
    found = blocks(text, "t.md")
    assert [(b.line, b.code, b.not_run) for b in found] == [
        (2, "a = 1\n", False),
        (6, "import redis\n", True),
    ]


def test_docs_have_examples_and_few_are_skipped() -> None:
    assert len(ALL) >= 5
    skipped = [b for b in ALL if b.not_run]
    assert len(skipped) <= len(ALL) // 2, [f"{b.path}:{b.line}" for b in skipped]


def _nested_pytest(block: Block) -> bool:
    """Whether the example runs pytest itself (a contract suite in a nested interpreter)."""
    return re.search(r"""["']-m["'],\s*["']pytest["']""", block.code) is not None


@pytest.mark.parametrize(
    "block",
    # the examples that run a whole contract suite in a nested pytest take seconds each:
    # slow, so only the full run (CI) runs them; the contracts themselves run in the quick
    # run too (tests/testing, tests/storage/test_contract.py, tests/repositories)
    [
        pytest.param(b, marks=pytest.mark.slow) if _nested_pytest(b) else b
        for b in ALL
        if not b.not_run
    ],
    ids=lambda b: f"{b.path}:{b.line}",
)
def test_doc_example_runs(block: Block, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIA")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    script = tmp_path / "example.py"
    script.write_text(block.code)
    r = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, f"{block.path}:{block.line} failed:\n{r.stdout}\n{r.stderr}"
    # a leak raised in a finalizer is printed ("Exception ignored in ..."), not fatal: an
    # example users copy closes what it opens
    assert "ResourceWarning" not in r.stderr, f"{block.path}:{block.line} leaks:\n{r.stderr}"
