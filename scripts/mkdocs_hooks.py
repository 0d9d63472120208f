"""MkDocs hooks: render the Sphinx-style markup of mediakit's docstrings in the API reference.

The docstrings are written for both ``help()`` and the site, with Sphinx roles
(``:class:`~mediakit.errors.NotFound```) and ``.. code-block::`` directives; mkdocstrings
renders docstrings as Markdown and would show those verbatim. This hook, run on each page's
HTML, turns a role into an optional cross-reference (mkdocs-autorefs links it when the
target is documented, shows plain code otherwise) and drops the directive lines, whose
indented blocks already render as code. Registered in mkdocs.yml under ``hooks:``.
"""

from __future__ import annotations

import html
import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const|type):<code>(?P<target>[^<]+)</code>"
)
_DIRECTIVE = re.compile(r"<p>\.\. (?:code-block|code|sourcecode)::[^<]*</p>\s*")
_LITERAL_MARKER = re.compile(r"::</p>")


def _role(match: re.Match[str]) -> str:
    target = html.unescape(match.group("target")).strip()
    short = target.startswith("~")
    target = target.lstrip("~.")
    shown = target.rsplit(".", 1)[-1] if short else target
    if target.endswith("()"):
        target = target[:-2]
    return (
        f'<autoref identifier="{html.escape(target)}" optional>'
        f"<code>{html.escape(shown)}</code></autoref>"
    )


def render_sphinx_markup(text: str) -> str:
    """The HTML with roles as optional cross-references and code directives removed."""
    text = _ROLE.sub(_role, text)
    text = _DIRECTIVE.sub("", text)
    return _LITERAL_MARKER.sub(":</p>", text)


def on_page_content(html_text: str, **kwargs: Any) -> str:
    """MkDocs hook: post-process every page's HTML."""
    return render_sphinx_markup(html_text)
