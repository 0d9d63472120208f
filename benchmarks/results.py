"""Machine-readable results of a benchmark run (what ``benchmarks.report`` reads).

A benchmark keeps the figures it measured with :func:`keep` (plain numbers, strings,
lists and dicts: whatever it already computed, in its own shape), next to the Markdown
section its ``run()`` returns. ``python -m benchmarks`` collects them per benchmark with
the section, its Markdown tables parsed into rows, the benchmark's duration and the load
average around it, and writes one JSON file per run (:func:`write_run`), by default
``benchmarks/results/<UTC time>[-quick].json`` (ignored by git).

The report reads the kept figures where a benchmark keeps them and falls back to the
parsed tables, so a benchmark that changes its columns degrades to "not measured" on the
page rather than breaking it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VERSIONS = (
    "mediakit",
    "boto3",
    "botocore",
    "aiobotocore",
    "aioboto3",
    "Pillow",
    "pyvips",
    "uvicorn",
    "gunicorn",
    "fastapi",
    "Django",
    "httpx",
    "nanio",
)

_KEPT: dict[str, dict[str, Any]] = {}


def keep(benchmark: str, figures: dict[str, Any]) -> None:
    """Keep ``figures`` (merged into what ``benchmark`` kept before in this process)."""
    _KEPT.setdefault(benchmark, {}).update(plain(figures))


def take(benchmark: str) -> dict[str, Any]:
    """The figures ``benchmark`` kept since the last call (and forget them)."""
    return _KEPT.pop(benchmark, {})


def plain(value: Any) -> Any:
    """``value`` as JSON-able data: tuples to lists, keys to strings, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def tables(markdown: str) -> list[dict[str, Any]]:
    """The Markdown tables of a section: ``{"header": [...], "rows": [[...], ...]}`` each,
    with the nearest ``#``-heading above as ``"heading"`` and the last line of text
    between that heading and the table as ``"caption"``."""
    found: list[dict[str, Any]] = []
    current: list[list[str]] = []
    heading = caption = ""
    for line in [*markdown.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):
                current.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if current:
            found.append(
                {"heading": heading, "caption": caption, "header": current[0], "rows": current[1:]}
            )
            current = []
        if line.startswith("#"):
            heading, caption = line.lstrip("#").strip(), ""
        elif line.strip():
            caption = line.strip()[:300]
    return found


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the versions of the libraries measured."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_gib = round(int(first.split()[1]) / 1024 / 1024, 1)
    versions: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_path": sys.executable,
        "versions": versions,
    }


def new_run(argv: list[str], names: list[str], quick: bool) -> dict[str, Any]:
    """The record of a run that starts now."""
    return {
        "format": 1,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "finished": None,
        "command": "python -m benchmarks " + " ".join(argv),
        "quick": quick,
        "names": names,
        "complete": False,
        "load_start": list(os.getloadavg()),
        "load_end": None,
        "machine": machine(),
        "benchmarks": {},
    }


def default_path(run: dict[str, Any]) -> Path:
    """``benchmarks/results/<UTC start time>[-quick].json``."""
    stamp = run["started"].replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    return RESULTS_DIR / f"{stamp}{'-quick' if run['quick'] else ''}.json"


def write_run(run: dict[str, Any], path: Path) -> None:
    """Write ``run`` as JSON (atomically: a run stopped half-way leaves a readable file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plain(run), indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)


def load(path: str | Path) -> dict[str, Any]:
    """A run written by :func:`write_run`."""
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def full_runs(directory: Path = RESULTS_DIR) -> list[Path]:
    """The complete, non-quick runs in ``directory``, oldest first."""
    found = []
    for path in sorted(directory.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            run = load(path)
            if run.get("complete") and not run.get("quick"):
                found.append(path)
    return found
