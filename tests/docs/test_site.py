"""The site's structure: every page is in the navigation, and every public module has an
API reference page rendered from its docstrings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_MODULES = [
    "mediakit.settings",
    "mediakit.contract",
    "mediakit.errors",
    "mediakit.models",
    "mediakit.keys",
    "mediakit.storage",
    "mediakit.presign",
    "mediakit.http",
    "mediakit.proxy",
    "mediakit.uploads",
    "mediakit.processing",
    "mediakit.repositories",
    "mediakit.service",
    "mediakit.cli",
    "mediakit.testing",
    "mediakit_fastapi",
    "mediakit_django",
]


def _nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:") : text.index("\nplugins:")]
    return set(re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, re.M))


def test_every_page_is_in_the_navigation() -> None:
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == _nav_pages()


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_has_a_reference_page(module: str) -> None:
    directives = {
        line.removeprefix("::: ").strip()
        for page in (DOCS / "reference").glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
    assert module in directives
