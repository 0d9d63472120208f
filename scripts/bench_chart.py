"""Add Mermaid bar charts of the ratios to docs/benchmarks.md.

    python scripts/bench_chart.py [docs/benchmarks.md]     # rewrite the charts block
    python scripts/bench_chart.py --check [PAGE]           # exit 1 if the block is stale

Every benchmark section (``## ...``) prints tables whose ratio column (a header with
"vs", "speed-up" or "ratio") holds values like ``80x``, ``1.25x`` or ``3.1x faster``. For
each such table this script draws one ``xychart-beta`` bar chart, titled with the section
and the column header (so "time vs anchor", where lower is better, is not read as a
speed-up), between ``<!-- bench-chart:begin -->`` and ``<!-- bench-chart:end -->``.
Nothing else on the page changes; running it twice gives the same page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BEGIN = "<!-- bench-chart:begin -->"
END = "<!-- bench-chart:end -->"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_RATIO_HEADER = re.compile(r"\bvs\b|speed-up|ratio", re.I)
_RATIO_VALUE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*x\b")
_MAX_LABEL = 48


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _label(text: str) -> str:
    clean = re.sub(r"[`*\"\[\]]", "", text).strip()
    return clean if len(clean) <= _MAX_LABEL else clean[: _MAX_LABEL - 1].rstrip() + "…"


def _tables(section: str) -> list[list[list[str]]]:
    """The Markdown tables of a section, as rows of cells (header first, no rule line)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*section.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):
                current.append(_cells(line))
        elif current:
            tables.append(current)
            current = []
    return tables


def charts(markdown: str) -> list[str]:
    """One Mermaid chart per ratio column of every table under a ``##`` section."""
    out: list[str] = []
    sections = re.split(r"^## ", markdown, flags=re.M)[1:]
    for section in sections:
        title = _label(section.splitlines()[0])
        for table in _tables(section):
            header, rows = table[0], table[1:]
            for col, name in enumerate(header):
                if col == 0 or not _RATIO_HEADER.search(name):
                    continue
                points = []
                for row in rows:
                    m = _RATIO_VALUE.match(row[col]) if col < len(row) else None
                    if m:
                        points.append((_label(row[0]), float(m.group(1))))
                if len(points) < 2:
                    continue
                labels = ", ".join(f'"{label}"' for label, _ in points)
                values = ", ".join(f"{value:g}" for _, value in points)
                out.append(
                    "```mermaid\n"
                    "xychart-beta\n"
                    f'    title "{title}: {_label(name)}"\n'
                    f"    x-axis [{labels}]\n"
                    f'    y-axis "{_label(name)}"\n'
                    f"    bar [{values}]\n"
                    "```"
                )
    return out


def with_charts(page: str) -> str:
    """``page`` with its charts block replaced (or added after the introduction)."""
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        page = head + tail.removeprefix("\n").removeprefix("\n")
    found = charts(page)
    if not found:
        return page
    block = (
        f"{BEGIN}\n## Ratios at a glance\n\nEach bar is a ratio measured in the same run as its "
        "anchor (the tables below give the figures and say which way is better).\n\n"
        + "\n\n".join(found)
        + f"\n{END}\n"
    )
    first = re.search(r"^## ", page, flags=re.M)
    if first is None:  # pragma: no cover - charts come from sections
        return page + block
    return page[: first.start()] + block + "\n" + page[first.start() :]


def main(argv: list[str]) -> int:
    """Rewrite (or with ``--check``, verify) the page's charts block."""
    check = "--check" in argv
    paths = [Path(a) for a in argv if not a.startswith("-")] or [PAGE]
    stale = False
    for path in paths:
        text = path.read_text()
        new = with_charts(text)
        if new != text:
            if check:
                print(f"{path}: charts are stale; run python scripts/bench_chart.py")
                stale = True
            else:
                path.write_text(new)
                print(f"wrote charts into {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
