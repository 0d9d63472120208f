"""``mkdocs build --strict`` passes (CI runs the test suite, so the site is built there), and
the API reference is really rendered from the docstrings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_site_builds_strict_with_rendered_api_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    service = (site / "reference" / "service" / "index.html").read_text()
    assert 'id="mediakit.service.MediaService"' in service
    assert "composition root" in service  # a docstring's words, rendered
    fastapi = (site / "reference" / "fastapi" / "index.html").read_text()
    assert 'id="mediakit_fastapi.create_router"' in fastapi
    # the module's example is a code block of its own, not prose run together
    assert "&gt;&gt;&gt;" not in fastapi
    example = fastapi.index('app</span><span class="o">.</span><span class="n">include_router')
    assert fastapi.rfind("<pre", 0, example) > fastapi.rfind("</pre>", 0, example)
    assert (site / "security" / "index.html").is_file()
    for page in (site / "reference").rglob("index.html"):
        text = page.read_text()
        for raw in (":class:", ":func:", ":meth:", ".. code-block::"):
            assert raw not in text, (page, raw)  # Sphinx markup rendered by the hook
    service = (site / "reference" / "service" / "index.html").read_text()
    assert 'href="../preflight/#mediakit.preflight.preflight"' in service  # a role became a link
    assert (site / "changelog" / "index.html").read_text().count("0.1.0") >= 1


def test_hook_turns_roles_into_optional_references_and_drops_directives() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from mkdocs_hooks import render_sphinx_markup
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    html = (
        "<p>See :class:<code>~mediakit.errors.NotFound</code> and "
        ":func:<code>mediakit.keys.new_revision()</code>. Start-up::</p>\n"
        "<p>.. code-block:: console</p>\n<pre>x</pre>"
    )
    assert render_sphinx_markup(html) == (
        '<p>See <autoref identifier="mediakit.errors.NotFound" optional><code>NotFound</code>'
        '</autoref> and <autoref identifier="mediakit.keys.new_revision" optional>'
        "<code>mediakit.keys.new_revision()</code></autoref>. Start-up:</p>\n<pre>x</pre>"
    )
