"""Regenerate the table in docs/configuration.md from mediakit.settings.

Run: ``python scripts/gen_config_docs.py`` (tests/test_docs.py fails when the page is stale).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import attrs

from mediakit.settings import Settings

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BEGIN, END = "<!-- settings-table:begin -->", "<!-- settings-table:end -->"


def _default(field: attrs.Attribute[object]) -> str:
    d = field.default
    if d is None:
        return "unset"
    if isinstance(d, bool):
        return "`true`" if d else "`false`"
    if isinstance(d, tuple):
        return "`" + ",".join(str(x) for x in d) + "`"
    if isinstance(d, int) and d >= 1024 * 1024 and d % (1024 * 1024) == 0:
        mib = d % 1024**3
        return f"`{d // 1024**3}GiB`" if mib == 0 else f"`{d // 1024**2}MiB`"
    return f"`{d}`"


def table() -> str:
    """The Markdown table of every setting."""
    rows = ["| Variable | Field | Default | Meaning |", "|---|---|---|---|"]
    for f in attrs.fields(Settings):
        doc = f.metadata["doc"].replace("|", "\\|")
        rows.append(f"| `{f.metadata['env']}` | `{f.name}` | {_default(f)} | {doc} |")
    return "\n".join(rows)


def render(text: str) -> str:
    """``text`` with the table between the markers replaced."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    return pattern.sub(f"{BEGIN}\n{table()}\n{END}", text)


if __name__ == "__main__":
    new = render(PAGE.read_text())
    if "--check" in sys.argv:
        sys.exit(0 if new == PAGE.read_text() else 1)
    PAGE.write_text(new)
