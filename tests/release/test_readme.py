"""The README is also the PyPI project page: its links must work there, and it must tell a
PyPI user what pip cannot install (libmagic) without assuming a clone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# [text](target) and <https://...> autolinks; images too (![alt](target))
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<([a-z]+:[^>\s]+)>")


def test_every_link_is_absolute_so_it_works_on_pypi() -> None:
    targets = _LINK.findall(README) + _AUTOLINK.findall(README)
    assert targets, "the README should link to the docs and the repository"
    relative = [t for t in targets if not t.startswith("https://")]
    assert not relative, f"relative or non-https links break on PyPI: {relative}"
    assert any(t.startswith("https://mediakit.readthedocs.io/") for t in targets)
    assert any(t.startswith("https://github.com/mediakit/mediakit") for t in targets)


def test_the_links_match_the_project_urls() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    docs = re.search(r'^Documentation = "([^"]+)"', pyproject, re.M)
    source = re.search(r'^Source = "([^"]+)"', pyproject, re.M)
    assert docs is not None
    assert source is not None
    assert docs.group(1).rstrip("/") in README
    assert source.group(1) in README


def test_install_names_libmagic_for_each_platform() -> None:
    install = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "libmagic1" in install  # Debian/Ubuntu
    assert "brew install libmagic" in install  # macOS
    assert "python-magic-bin" in install  # Windows


def test_a_quickstart_for_pypi_users_comes_before_the_clone_lines() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    pypi = quickstart.index('pip install "mediakit[')
    clone = quickstart.index('pip install -q -e ".[dev]"')
    assert pypi < clone
    assert "```python" in quickstart[:clone]  # an app a PyPI user can save and run
