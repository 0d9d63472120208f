"""Run the benchmarks and rewrite docs/benchmarks.md.

    python -m benchmarks                 # all of them
    python -m benchmarks presign proxy   # some of them
    python -m benchmarks --quick         # smaller inputs (a smoke run; not for the docs)

Each module exposes ``run(quick: bool = False) -> str`` returning a Markdown section that
compares mediakit with the obvious alternative measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
import traceback
from pathlib import Path

ALL = [
    "presign",
    "storage_url",
    "list_images_steps",
    "list_images",
    "routes",
    "proxy",
    "upload",
    "thumbnails",
    "audio",
]
PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Run them with `nox -s bench` (or `python -m benchmarks [NAME ...]`). Each benchmark compares
mediakit with the obvious alternative **in the same run** on the same machine and prints the
ratio, so the figures below are comparable with each other even though absolute numbers move
from machine to machine. This page is rewritten by the full run.
"""


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) and print/write their sections."""
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or ALL
    sections: list[str] = []
    failed = False
    for name in names:
        print(f"== {name}", flush=True)
        try:
            section = importlib.import_module(f"benchmarks.{name}").run(quick=quick)
        except Exception:
            failed = True
            section = f"## {name}\n\nFailed:\n\n```\n{traceback.format_exc()}\n```\n"
        print(section, flush=True)
        sections.append(section)
    if not quick and names == ALL:
        meta = (
            f"_Last run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
            f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs._\n"
        )
        PAGE.write_text(HEADER + "\n" + meta + "\n" + "\n\n".join(sections) + "\n")
        chart = PAGE.parents[1] / "scripts" / "bench_chart.py"
        subprocess.run([sys.executable, str(chart), str(PAGE)], check=False)
        print(f"wrote {PAGE}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
