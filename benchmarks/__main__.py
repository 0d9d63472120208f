"""Run the benchmarks; write one JSON results file per run.

    python -m benchmarks                 # all of them (the full run, ~12 minutes)
    python -m benchmarks presign proxy   # some of them
    python -m benchmarks --quick         # smaller inputs (a smoke run; not for the docs)
    python -m benchmarks --out PATH      # the results file (default: see below)

Each module exposes ``run(quick: bool = False) -> str`` returning a Markdown section that
compares mediakit with the obvious alternative measured in the same run, and keeps its
figures with :func:`benchmarks.results.keep`. Every run writes
``benchmarks/results/<UTC start>[-quick].json`` (git ignores it): each benchmark's figures,
its section, its tables, its duration and the load average around it, and the machine's
facts. ``python -m benchmarks.report RUN1.json RUN2.json`` turns two full runs into
``docs/benchmarks.md`` (with no arguments it takes the two newest full runs).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks import results

ALL = [
    "presign",
    "storage_url",
    "list_images_steps",
    "list_images",
    "routes",
    "proxy",
    "upload",
    "uvicorn_body",
    "thumbnails",
    "image_check",
    "audio",
]


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default); print their sections, write the results."""
    quick = "--quick" in argv
    out: Path | None = None
    if "--out" in argv:
        if argv.index("--out") + 1 >= len(argv):
            print("--out needs a file name")
            return 2
        out = Path(argv[argv.index("--out") + 1])
        argv = [a for i, a in enumerate(argv) if a != "--out" and argv[i - 1 : i] != ["--out"]]
    names = [a for a in argv if not a.startswith("-")] or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(ALL)}")
        return 2
    run = results.new_run(argv, names, quick)
    path = out or results.default_path(run)
    failed = False
    for name in names:
        print(f"== {name}", flush=True)
        load0, t0 = os.getloadavg(), time.perf_counter()
        try:
            section = importlib.import_module(f"benchmarks.{name}").run(quick=quick)
            error = None
        except Exception:
            failed = True
            error = traceback.format_exc()
            section = f"## {name}\n\nFailed:\n\n```\n{error}\n```\n"
        seconds = time.perf_counter() - t0
        print(section, flush=True)
        print(f"-- {name}: {seconds:.1f} s", flush=True)
        run["benchmarks"][name] = {
            "seconds": round(seconds, 2),
            "load_before": list(load0),
            "load_after": list(os.getloadavg()),
            "error": error,
            "markdown": section,
            "tables": results.tables(section),
            "figures": results.take(name),
        }
        results.write_run(run, path)  # after each benchmark: a stopped run keeps its part
    run["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    run["load_end"] = list(os.getloadavg())
    run["complete"] = names == ALL
    results.write_run(run, path)
    total = sum(b["seconds"] for b in run["benchmarks"].values())
    print(f"wrote {path} ({total / 60:.1f} min)")
    if run["complete"] and not quick:
        print(
            "Two full runs make the page: python -m benchmarks.report "
            "(the two newest full runs) or python -m benchmarks.report RUN1.json RUN2.json"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
