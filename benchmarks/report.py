"""Write docs/benchmarks.md (and its charts) from two full benchmark runs.

    python -m benchmarks.report                      # the two newest full runs
    python -m benchmarks.report RUN1.json RUN2.json  # these two (one is allowed too)
    python -m benchmarks.report --page PATH RUN...   # write elsewhere (charts beside it)

The runs are the JSON files ``python -m benchmarks`` writes (:mod:`benchmarks.results`).
The page gets: the commands, the machine's facts (CPU, cores, load average at start and
end, Python, library versions), one table per goal of issue 15 with both runs' figures and
whether each is met, the charts (one SVG per family, under ``docs/assets/benchmarks/``),
"How cost grows", the duration of each benchmark and every benchmark's own section from
run 1.

Every figure is looked up tolerantly: a benchmark that did not run, failed, or changed its
shape shows as "not measured" instead of breaking the page.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import results
from benchmarks.charts import Chart, svg

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
ASSETS = "assets/benchmarks"  # relative to the page's directory
KINDS = ("fastapi", "django-asgi", "django-wsgi")

# The measurable reading of the goals that issue 15 states in words.
FIRST_REQUEST_MS = 50.0  # "no request pays start-up costs" (they were 400-560 ms)
FLAT_MEMORY_MIB = 64.0  # "memory flat": server RSS growth while uploading
THUMBS_TODAY_MS = 175.0  # "no worse than today's time": 150-175 ms on this machine

Run = dict[str, Any]


def get(data: Any, *path: Any) -> Any:
    """``data[path[0]][path[1]]...``, or None where any step is missing."""
    for step in path:
        if isinstance(data, dict):
            data = data.get(step if not isinstance(step, int) else str(step), data.get(step))
        elif isinstance(data, list) and isinstance(step, int) and -len(data) <= step < len(data):
            data = data[step]
        else:
            return None
    return data


def num(value: Any) -> float | None:
    """``value`` as a float, or None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def figures(run: Run, name: str) -> dict[str, Any]:
    """What benchmark ``name`` kept in ``run`` (empty when it did not run or failed)."""
    found = get(run, "benchmarks", name, "figures")
    return found if isinstance(found, dict) else {}


def table_value(
    run: Run, name: str, row: Callable[[str], bool], column: Callable[[str], bool]
) -> float | None:
    """The first number in the cell of the first row whose label matches ``row``, in the
    first column whose header matches ``column``, in benchmark ``name``'s tables."""
    for table in get(run, "benchmarks", name, "tables") or []:
        header = [h.lower() for h in table["header"]]
        cols = [i for i, h in enumerate(header) if column(h)]
        if not cols:
            continue
        for cells in table["rows"]:
            if cells and row(cells[0].lower()) and cols[0] < len(cells):
                m = re.search(r"-?[0-9][0-9,]*(?:\.[0-9]+)?", cells[cols[0]])
                if m:
                    return float(m.group(0).replace(",", ""))
    return None


# ------------------------------------------------------------------ the goals of issue 15


@dataclass
class Measure:
    """One checked figure of a goal: its text and whether it meets the goal (None: not
    measured)."""

    text: str
    met: bool | None


@dataclass
class Goal:
    """A goal row of issue 15 and how to read it from a run."""

    key: str
    work: str
    issue_measured: str
    target: str
    measures: Callable[[Run], list[tuple[str, str, Measure]]]  # (what, goal, measure)


def _servers(run: Run) -> dict[str, Any]:
    found = get(figures(run, "routes"), "servers")
    return found if isinstance(found, dict) else {}


def _seek(run: Run) -> list[tuple[str, str, Measure]]:
    out = []
    for kind in KINDS:
        s = get(_servers(run), kind, "seek") or {}
        route, direct, cpu = num(s.get("route_ms")), num(s.get("direct_ms")), num(s.get("cpu_ms"))
        over = route - direct if route is not None and direct is not None else None
        out.append(
            (
                f"{kind}: route over a direct S3 GET (p50)",
                "< 3 ms",
                Measure(
                    f"+{over:.2f} ms" if over is not None else "",
                    None if over is None else over < 3,
                ),
            )
        )
        out.append(
            (
                f"{kind}: server CPU per seek",
                "< 2 ms",
                Measure(
                    f"{cpu:.2f} ms" if cpu is not None else "", None if cpu is None else cpu < 2
                ),
            )
        )
    return out


def _first(run: Run) -> list[tuple[str, str, Measure]]:
    out = []
    for kind in KINDS:
        f = get(_servers(run), kind, "first") or {}
        for what, key in (("first seek", "seek_ms"), ("first 100-image page", "listing_ms")):
            v = num(f.get(key))
            out.append(
                (
                    f"{kind}: {what} after a start",
                    f"< {FIRST_REQUEST_MS:.0f} ms",
                    Measure(
                        f"{v:.1f} ms" if v is not None else "",
                        None if v is None else v < FIRST_REQUEST_MS,
                    ),
                )
            )
    return out


def _presign(run: Run) -> list[tuple[str, str, Measure]]:
    f = figures(run, "presign")
    unc, miss = num(get(f, "per_url_us", "uncached")), num(get(f, "per_url_us", "miss"))
    warm, ahead = num(get(f, "service_page_ms", "warm")), num(get(f, "service_page_ms", "ahead"))
    extra = miss - unc if miss is not None and unc is not None else None
    ratio = ahead / warm if ahead is not None and warm else None
    return [
        (
            "cache miss over an uncached sign",
            "<= +2 µs",
            Measure(
                f"+{extra:.2f} µs ({miss:.2f} vs {unc:.2f})" if extra is not None else "",
                None if extra is None else extra <= 2.0,
            ),
        ),
        (
            "first page of a signing window over a warm page (400 URLs)",
            "<= 1.5x",
            Measure(
                f"{ratio:.2f}x ({ahead:.2f} vs {warm:.2f} ms)" if ratio is not None else "",
                None if ratio is None else ratio <= 1.5,
            ),
        ),
    ]


def _async_sync(run: Run) -> list[tuple[str, str, Measure]]:
    f = figures(run, "list_images_steps")
    a_cpu, s_cpu = num(get(f, "async", "cpu_ms")), num(get(f, "sync", "cpu_ms"))
    a_wall, s_wall = num(get(f, "async", "wall_ms")), num(get(f, "sync", "wall_ms"))
    if a_cpu is None or not s_cpu:
        return [("async over sync, CPU per 100-image page", "<= 1.2x", Measure("", None))]
    wall = f"; wall {a_wall / s_wall:.2f}x" if a_wall and s_wall else ""
    ratio = a_cpu / s_cpu
    return [
        (
            "async over sync, CPU per 100-image page",
            "<= 1.2x",
            Measure(f"{ratio:.2f}x ({a_cpu:.2f} vs {s_cpu:.2f} ms{wall})", ratio <= 1.2),
        )
    ]


def upload_anchor(run: Run, kind: str | None, n: str) -> dict[str, Any]:
    """boto3's figures for ``n`` ("1" or "8") files: the run just before ``kind``'s
    upload when the benchmark keeps one per server, else the run's single anchor."""
    mine = get(_servers(run), kind, f"anchor{n}") if kind else None
    found = mine if isinstance(mine, dict) else get(figures(run, "routes"), "upload_anchor", n)
    return found if isinstance(found, dict) else {}


def _upload(run: Run) -> list[tuple[str, str, Measure]]:
    f = figures(run, "routes")
    mib = f.get("upload_mib")
    out = []
    for kind in KINDS:
        u = get(_servers(run), kind, "upload1") or {}
        anchor = upload_anchor(run, kind, "1")
        speed, a_speed = num(u.get("mib_s")), num(anchor.get("mib_s"))
        cpu, a_cpu = num(u.get("cpu_s_per_gib")), num(anchor.get("cpu_s_per_gib"))
        rss = num(u.get("rss_growth_mib"))
        s = speed / a_speed if speed is not None and a_speed else None
        c = cpu / a_cpu if cpu is not None and a_cpu else None
        size = f", {mib} MiB" if mib else ""
        out += [
            (
                f"{kind}: speed over boto3 `upload_fileobj`{size}",
                ">= 0.9x",
                Measure(
                    f"{s:.2f}x ({speed:.0f} vs {a_speed:.0f} MiB/s)" if s is not None else "",
                    None if s is None else s >= 0.9,
                ),
            ),
            (
                f"{kind}: CPU per GiB over boto3's",
                "<= 1.1x",
                Measure(
                    f"{c:.2f}x ({cpu:.2f} vs {a_cpu:.2f} s)" if c is not None else "",
                    None if c is None else c <= 1.1,
                ),
            ),
            (
                f"{kind}: server memory growth while uploading",
                f"< {FLAT_MEMORY_MIB:.0f} MiB (flat)",
                Measure(
                    f"{rss:.0f} MiB" if rss is not None else "",
                    None if rss is None else rss < FLAT_MEMORY_MIB,
                ),
            ),
        ]
    return out


def _is_mediakit_row(label: str) -> bool:
    """mediakit's default pipeline (not a variant such as ``, encode_threads=1``)."""
    return label.replace("*", "").strip().lower() == "mediakit make_thumbnails"


def equal_quality_ratios(run: Run) -> list[tuple[str, float]]:
    """(input and size, mediakit's bytes at the anchor's PSNR over the anchor's bytes) from
    the thumbnails benchmark's per-size tables (a column "bytes at equal PSNR"). A value the
    quality sweep could not reach reads ``"< N B"`` (fewer bytes than at the lowest quality:
    0.0 here) or ``"> N B"`` (more than at the highest: inf)."""
    out: list[tuple[str, float]] = []
    found = [
        table
        for table in get(run, "benchmarks", "thumbnails", "tables") or []
        if any("equal" in h.lower() for h in table["header"])
    ]
    for n, table in enumerate(found, 1):
        header = [h.lower() for h in table["header"]]
        eq = next(i for i, h in enumerate(header) if "equal" in h)
        pcol = next((i for i, h in enumerate(header) if "pipeline" in h), 1)
        scol = next((i for i, h in enumerate(header) if h.startswith("size")), 0)
        named = re.search(r"\*\*(.+?)\*\*", table.get("caption") or "")
        label = named.group(1) if named else f"input {n}"
        for cells in table["rows"]:
            if len(cells) <= max(eq, pcol, scol) or not _is_mediakit_row(cells[pcol]):
                continue
            cell = cells[eq].strip()
            value = re.fullmatch(r"([0-9]*\.?[0-9]+)x", cell)
            if value:
                out.append((f"{label}, {cells[scol]} px", float(value.group(1))))
            elif cell.startswith("<"):
                out.append((f"{label}, {cells[scol]} px", 0.0))
            elif cell.startswith(">"):
                out.append((f"{label}, {cells[scol]} px", math.inf))
    return out


def _thumbs(run: Run) -> list[tuple[str, str, Measure]]:
    f = figures(run, "thumbnails")
    size_ratio = num(f.get("size_vs_pillow_default"))
    size_text = ""
    ratios = equal_quality_ratios(run)
    if size_ratio is None and ratios:
        size_ratio = max(v for _, v in ratios)
        worst = next(label for label, v in ratios if v == size_ratio)
        shown = f"{size_ratio:.3f}x" if math.isfinite(size_ratio) else "beyond the sweep"
        size_text = f"worst {shown} ({worst}; {len(ratios)} sizes and inputs)"
    elif size_ratio is None:  # an older table: total output KB per pipeline
        kb = lambda h: "kb" in h or "size" in h  # noqa: E731
        mine = table_value(run, "thumbnails", _is_mediakit_row, kb)
        pillow = table_value(run, "thumbnails", lambda r: "pillow" in r and "default" in r, kb)
        size_ratio = mine / pillow if mine is not None and pillow else None
    if size_ratio is not None and not size_text:
        size_text = f"{size_ratio:.2f}x"
    wall = num(f.get("mediakit_wall_ms"))
    if wall is None:
        wall = table_value(run, "thumbnails", _is_mediakit_row, lambda h: "wall" in h)
    cpu = table_value(run, "thumbnails", _is_mediakit_row, lambda h: h.startswith("cpu ms"))
    cpu_text = f" (CPU {cpu:.0f} ms, all threads)" if cpu is not None else ""
    return [
        (
            "mediakit's bytes at the anchor's quality (PSNR) over naive Pillow's default WebP",
            "<= 1.05x",
            Measure(size_text, None if size_ratio is None else size_ratio <= 1.05),
        ),
        (
            "mediakit's time for 320/640/1280 of a 24 MP JPEG",
            f"<= {THUMBS_TODAY_MS:.0f} ms",
            Measure(
                f"{wall:.0f} ms{cpu_text}" if wall is not None else "",
                None if wall is None else wall <= THUMBS_TODAY_MS,
            ),
        ),
    ]


GOALS = [
    Goal(
        "seek",
        "64 KiB mid-file Range through `/api/v1/user/media/{id}/stream`, TTFB over a direct GET",
        "+8.4 ms, server CPU 7.4-9.2 ms per seek",
        "the route < 3 ms over direct, CPU per seek < 2 ms, on FastAPI and Django",
        _seek,
    ),
    Goal(
        "first",
        "First request after start",
        "400-560 ms",
        f"no request pays start-up costs (read: first seek and first page < {FIRST_REQUEST_MS:.0f} ms)",
        _first,
    ),
    Goal(
        "presign",
        "Presign cache miss through `CachedSigner`",
        "38-40 µs, 5x an uncached sign; first page of a window 34 ms instead of 6",
        "a miss costs at most an uncached sign + 2 µs; the first page of a window within 1.5x a warm one",
        _presign,
    ),
    Goal(
        "async",
        "Async vs sync service, warm 100-image page, in process",
        "6.3 ms vs 4.1 ms",
        "async within 1.2x of sync",
        _async_sync,
    ),
    Goal(
        "upload",
        "Upload through the HTTP route",
        "0.77x boto3 `upload_fileobj` speed, 1.7x its CPU per GiB",
        f">= 0.9x speed, <= 1.1x CPU per GiB, memory flat (read: growth < {FLAT_MEMORY_MIB:.0f} MiB)",
        _upload,
    ),
    Goal(
        "thumbnails",
        "Thumbnails, 24 MP JPEG to 320/640/1280 WebP",
        "150-175 ms; files 47 % / 36 % / 14 % larger than Pillow's default",
        f"files no larger than 5 % above naive Pillow's default, no worse than today's time (read: <= {THUMBS_TODAY_MS:.0f} ms)",
        _thumbs,
    ),
]


def _verdict(measures: Sequence[Measure]) -> str:
    if not measures or any(m.met is None for m in measures):
        return "not measured" if all(m.met is None for m in measures) else "partly measured"
    return "**met**" if all(m.met for m in measures) else "not met"


def goal_sections(runs: Sequence[Run]) -> list[str]:
    """The summary of the goals and one table per goal (both runs, met or not)."""
    names = [f"run {i + 1}" for i in range(len(runs))]
    summary = [
        "| Goal (issue 15) | Target | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    detail: list[str] = []
    for goal in GOALS:
        per_run = [goal.measures(run) for run in runs]
        summary.append(
            f"| {goal.work} | {goal.target} | "
            + " | ".join(_verdict([m for _, _, m in found]) for found in per_run)
            + " |"
        )
        detail += [
            f"### {goal.work}",
            "",
            f"Issue 15 measured {goal.issue_measured}. Goal: {goal.target}.",
            "",
            "| Measure | Goal | " + " | ".join(names) + " | Met |",
            "|---|---|" + "---:|" * len(runs) + "---|",
        ]
        for i, (what, target, _) in enumerate(per_run[0]):
            ms = [found[i][2] if i < len(found) else Measure("", None) for found in per_run]
            cells = [m.text or "not measured" for m in ms]
            if any(m.met is None for m in ms):
                met = "not measured"
            elif all(m.met for m in ms):
                met = "met" + (" in both" if len(runs) > 1 else "")
            else:
                missed = [names[j] for j, m in enumerate(ms) if not m.met]
                met = "**not met** (" + ", ".join(missed) + ")"
            detail.append(f"| {what} | {target} | " + " | ".join(cells) + f" | {met} |")
        detail.append("")
        if goal.key == "thumbnails":
            detail += _thumbnail_time_floor(runs, names)
    return ["## Issue 15 goals", "", *summary, "", *detail]


def _thumbnail_time_floor(runs: Sequence[Run], names: Sequence[str]) -> list[str]:
    """Why the thumbnails' time goal is out of reach with the bytes goal: each run's
    critical path of the largest thumbnail, as the thumbnails benchmark measured it."""
    lines = []
    for name, run in zip(names, runs, strict=True):
        text = get(run, "benchmarks", "thumbnails", "markdown")
        found = [line for line in (text or "").splitlines() if line.startswith("Critical path")]
        if found:
            lines.append(f"- {name}: {found[0]}")
    if not lines:
        return []
    return [
        "The time is out of reach at the bytes goal. The 1280's decode, resize and encode "
        "run one after the other, and no number of cores overlaps them. Only the faster "
        "methods (0-2) bring that path near the goal, and they need more than 1.05x the "
        "bytes at equal PSNR on some inputs (the *bytes at equal PSNR* columns under "
        "Thumbnails below).",
        "",
        *lines,
        "",
    ]


# ------------------------------------------------------------------ charts


def _pair(runs: Sequence[Run], fn: Callable[[Run], float | None]) -> list[float | None]:
    out = []
    for run in runs:
        try:
            out.append(fn(run))
        except (TypeError, KeyError, ZeroDivisionError):
            out.append(None)
    return out


def charts(runs: Sequence[Run]) -> dict[str, Chart]:
    """One chart per goal family (and a few more), keyed by file name."""
    series = [f"run {i + 1}" for i in range(len(runs))]
    out: dict[str, Chart] = {}

    def srv(run: Run, *path: Any) -> float | None:
        return num(get(_servers(run), *path))

    bars: list[tuple[str, list[float | None]]] = []
    for kind in KINDS:
        bars.append(
            (
                f"{kind}: direct S3 GET",
                _pair(runs, lambda r, k=kind: srv(r, k, "seek", "direct_ms")),
            )
        )
        bars.append(
            (
                f"{kind}: through the stream route",
                _pair(runs, lambda r, k=kind: srv(r, k, "seek", "route_ms")),
            )
        )
        bare = _pair(runs, lambda r, k=kind: srv(r, k, "seek", "bare_ms"))
        if any(v is not None for v in bare):  # the framework's floor, when measured
            bars.append((f"{kind}: a view doing nothing (/healthz)", bare))
    out["seek-latency"] = Chart(
        "Seek: a 64 KiB mid-file Range, route vs direct S3 (p50)",
        "milliseconds per request",
        bars,
        series,
    )
    out["seek-cpu"] = Chart(
        "Seek: server CPU per 64 KiB Range through the route",
        "milliseconds of server CPU per request",
        [(kind, _pair(runs, lambda r, k=kind: srv(r, k, "seek", "cpu_ms"))) for kind in KINDS],
        series,
        goal=2.0,
    )
    out["first-request"] = Chart(
        "First requests after a server start",
        "milliseconds",
        [
            (f"{kind}: {what}", _pair(runs, lambda r, k=kind, key=key: srv(r, k, "first", key)))
            for kind in KINDS
            for what, key in (("first seek", "seek_ms"), ("first 100-image page", "listing_ms"))
        ],
        series,
        goal=FIRST_REQUEST_MS,
    )

    def listing(run: Run, kind: str, n: int, idx: int) -> float | None:
        for row in get(_servers(run), kind, "listing") or []:
            if isinstance(row, list) and row and row[0] == n:
                return num(row[idx])
        return None

    out["listing"] = Chart(
        "Listing: GET /api/v1/user/images?limit=N, p50 by page size",
        "milliseconds per request",
        [
            (
                f"{kind}, {n} images ({4 * n} URLs)",
                _pair(runs, lambda r, k=kind, n=n: listing(r, k, n, 1)),
            )
            for kind in KINDS
            for n in (10, 50, 100)
        ],
        series,
    )

    def up(run: Run, kind: str | None, n: str) -> float | None:
        if kind is None:
            return num(upload_anchor(run, None, n).get("mib_s"))
        return num(get(_servers(run), kind, f"upload{n}", "mib_s"))

    out["upload"] = Chart(
        "Upload: WAV through the track route vs boto3 upload_fileobj",
        "MiB/s",
        [
            (label, _pair(runs, lambda r, k=kind, n=n: up(r, k, n)))
            for n, files in (("1", "1 file"), ("8", "8 concurrent files"))
            for label, kind in [
                (f"boto3 upload_fileobj, {files} (anchor)", None),
                *((f"{k}, {files}", k) for k in KINDS),
            ]
        ],
        series,
        lower_is_better=False,
    )
    out["presign"] = Chart(
        "Presign: one URL, uncached vs a CachedSigner miss and hit",
        "microseconds of CPU per URL",
        [
            (
                label,
                _pair(runs, lambda r, key=key: num(get(figures(r, "presign"), "per_url_us", key))),
            )
            for label, key in (
                ("SigV4Presigner.sign (uncached)", "uncached"),
                ("CachedSigner.sign, miss", "miss"),
                ("CachedSigner.sign, hit", "hit"),
            )
        ],
        series,
    )
    out["presign-page"] = Chart(
        "Presign: a 400-URL page through the service, warm vs first of a window",
        "milliseconds of CPU per page",
        [
            (
                label,
                _pair(
                    runs, lambda r, key=key: num(get(figures(r, "presign"), "service_page_ms", key))
                ),
            )
            for label, key in (
                ("warm: every URL cached", "warm"),
                ("first of a window, nothing signed ahead", "cold"),
                ("first of a window, URLs signed ahead", "ahead"),
            )
        ],
        series,
    )
    out["async-sync"] = Chart(
        "In process: a warm 100-image page, async service vs its sync twin",
        "milliseconds of CPU per page",
        [
            (
                label,
                _pair(
                    runs,
                    lambda r, key=key: num(get(figures(r, "list_images_steps"), key, "cpu_ms")),
                ),
            )
            for label, key in (("MediaService (sync)", "sync"), ("AsyncMediaService", "async"))
        ],
        series,
    )
    thumb_rows: list[str] = []
    for table in get(runs[0], "benchmarks", "thumbnails", "tables") or []:
        if any("wall" in h.lower() for h in table["header"]):
            thumb_rows = [cells[0] for cells in table["rows"] if cells]
            break

    def thumb_cell(run: Run, label: str, column: Callable[[str], bool]) -> float | None:
        return table_value(run, "thumbnails", lambda x: x == label.lower(), column)

    out["thumbnails-time"] = Chart(
        "Thumbnails: 320/640/1280 WebP from a 24 MP JPEG, time",
        "milliseconds (wall)",
        [
            (
                label.replace("**", ""),
                _pair(runs, lambda r, lab=label: thumb_cell(r, lab, lambda h: "wall" in h)),
            )
            for label in thumb_rows
        ],
        series,
    )
    ratios = [dict(equal_quality_ratios(run)) for run in runs]
    if any(ratios):
        labels = list(dict.fromkeys(k for found in ratios for k in found))
        out["thumbnails-size"] = Chart(
            "Thumbnails: mediakit's bytes at naive Pillow's quality, per size",
            "bytes at the anchor's PSNR / the anchor's bytes",
            [
                (
                    label,
                    [
                        v if (v := found.get(label)) is not None and math.isfinite(v) else None
                        for found in ratios
                    ],
                )
                for label in labels
            ],
            series,
            goal=1.05,
        )
    else:
        out["thumbnails-size"] = Chart(
            "Thumbnails: total output size of the three WebP files",
            "KB",
            [
                (
                    label.replace("**", ""),
                    _pair(runs, lambda r, lab=label: thumb_cell(r, lab, lambda h: "kb" in h)),
                )
                for label in thumb_rows
            ],
            series,
        )

    def growth(run: Run, kind: str, mib: int, key: str) -> float | None:
        for row in get(_servers(run), kind, "growth") or []:
            if isinstance(row, dict) and row.get("mib") == mib:
                return num(row.get(key))
        return None

    sizes = _growth_sizes(runs)
    out["growth-throughput"] = Chart(
        "How cost grows: a whole track through the proxy route vs direct S3",
        "MiB/s",
        [
            (
                f"{kind}, {_size(mib)}: {what}",
                _pair(runs, lambda r, k=kind, m=mib, key=key: growth(r, k, m, key)),
            )
            for kind in KINDS
            for mib in sizes
            for what, key in (("direct S3", "direct_mib_s"), ("route", "route_mib_s"))
        ],
        series,
        lower_is_better=False,
    )
    out["growth-cpu"] = Chart(
        "How cost grows: server CPU per GiB streamed through the route",
        "seconds of server CPU per GiB",
        [
            (
                f"{kind}, {_size(mib)}",
                _pair(runs, lambda r, k=kind, m=mib: growth(r, k, m, "cpu_s_per_gib")),
            )
            for kind in KINDS
            for mib in sizes
        ],
        series,
    )
    return {name: chart for name, chart in out.items() if chart.measured()}


def _size(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


def _growth_sizes(runs: Sequence[Run]) -> list[int]:
    sizes = {
        row["mib"]
        for run in runs
        for server in _servers(run).values()
        if isinstance(server, dict)
        for row in server.get("growth") or []
        if isinstance(row, dict) and isinstance(row.get("mib"), int)
    }
    return sorted(sizes)


# ------------------------------------------------------------------ how cost grows


def _both(runs: Sequence[Run], fn: Callable[[Run], float | None], fmt: str) -> str:
    values = _pair(runs, fn)
    return " / ".join("-" if v is None else format(v, fmt) for v in values)


def growth_section(runs: Sequence[Run]) -> list[str]:
    """Listing at 10/50/100, the proxy route at 64 MiB and 1 GiB, uploads of 1 and 8 files."""
    both = " / ".join(f"run {i + 1}" for i in range(len(runs)))
    lines = [
        "## How cost grows",
        "",
        f"Each cell gives {both}. All on the reference servers (own process each, SQLite, "
        "S3 on nanio over loopback); server CPU is the server process's (all threads and "
        "workers) from /proc. Command: `python -m benchmarks.routes` (part of the full run).",
        "",
        "### Listing by page size",
        "",
        "| Server | images (URLs) | p50 (ms) | server CPU per request (ms) | botocore alone for the URLs, CPU (ms) |",
        "|---|---:|---:|---:|---:|",
    ]

    def listing(run: Run, kind: str, n: int, idx: int) -> float | None:
        for row in get(_servers(run), kind, "listing") or []:
            if isinstance(row, list) and row and row[0] == n:
                return num(row[idx])
        return None

    for kind in KINDS:
        for n in (10, 50, 100):
            lines.append(
                f"| {kind} | {n} ({4 * n}) | {_both(runs, lambda r, k=kind, n=n: listing(r, k, n, 1), '.2f')} "
                f"| {_both(runs, lambda r, k=kind, n=n: listing(r, k, n, 2), '.2f')} "
                f"| {_both(runs, lambda r, n=n: num(get(figures(r, 'routes'), 'botocore_urls_ms', n)), '.1f')} |"
            )
    lines += [
        "",
        "### The proxy route with big objects",
        "",
        "A whole track (WAV, uploaded through the track route) fetched with a minimal socket "
        "client through `/api/v1/user/media/{id}/stream` and straight from S3 with a presigned "
        "GET, interleaved, best of 2-3; `--only growth`.",
        "",
        "| Server | object | direct S3 (MiB/s) | route (MiB/s) | route vs direct | server CPU per GiB (s) | server RSS peak (MiB) | RSS growth (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def g(run: Run, kind: str, mib: int, key: str) -> float | None:
        for row in get(_servers(run), kind, "growth") or []:
            if isinstance(row, dict) and row.get("mib") == mib:
                if key == "ratio":
                    return num(row["route_mib_s"]) / num(row["direct_mib_s"])  # type: ignore[operator]
                return num(row.get(key))
        return None

    for kind in KINDS:
        for mib in _growth_sizes(runs) or [64, 1024]:
            cells = [
                _both(runs, lambda r, k=kind, m=mib, key=key: g(r, k, m, key), fmt)
                for key, fmt in (
                    ("direct_mib_s", ".0f"),
                    ("route_mib_s", ".0f"),
                    ("ratio", ".2f"),
                    ("cpu_s_per_gib", ".2f"),
                    ("rss_peak_mib", ".0f"),
                    ("rss_growth_mib", ".1f"),
                )
            ]
            lines.append(f"| {kind} | {_size(mib)} | " + " | ".join(cells) + " |")
    mib = get(figures(runs[0], "routes"), "upload_mib")
    lines += [
        "",
        f"### Uploads: one file and 8 concurrent files{f' ({mib} MiB in total)' if mib else ''}",
        "",
        "The same bytes as one WAV or as 8 WAVs posted at once to the track route, against "
        "boto3 `upload_fileobj` of the same bytes (one file, or 8 in 8 threads) in a child "
        "process.",
        "",
        "| Path | MiB/s | vs boto3 | CPU per GiB (s) | vs boto3 | server RSS growth (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def u(run: Run, kind: str | None, n: str, key: str) -> float | None:
        anchor = upload_anchor(run, kind, n)
        if kind is None:
            return 1.0 if key.startswith("ratio") else num(anchor.get(key))
        row = get(_servers(run), kind, f"upload{n}") or {}
        if key == "ratio_speed":
            return num(row.get("mib_s")) / num(anchor.get("mib_s"))  # type: ignore[operator]
        if key == "ratio_cpu":
            return num(row.get("cpu_s_per_gib")) / num(anchor.get("cpu_s_per_gib"))  # type: ignore[operator]
        return num(row.get(key))

    for n, files in (("1", "1 file"), ("8", "8 concurrent files")):
        for label, kind in [
            (f"anchor: boto3 `upload_fileobj`, {files}", None),
            *((f"{k}, {files}", k) for k in KINDS),
        ]:
            cells = [
                _both(runs, lambda r, k=kind, n=n, key=key: u(r, k, n, key), fmt)
                for key, fmt in (
                    ("mib_s", ".0f"),
                    ("ratio_speed", ".2f"),
                    ("cpu_s_per_gib", ".2f"),
                    ("ratio_cpu", ".2f"),
                    ("rss_growth_mib", ".0f"),
                )
            ]
            if kind is None:
                cells[-1] = "-"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


# ------------------------------------------------------------------ the page


def _load(values: Any) -> str:
    return "/".join(f"{v:.2f}" for v in values[:3]) if isinstance(values, list) else "-"


def machine_section(runs: Sequence[Run], paths: Sequence[Path]) -> list[str]:
    """Where and when: the machine, the libraries, each run's load and duration."""
    m = runs[0].get("machine", {})
    versions = m.get("versions", {})
    lines = [
        "## The machine and the runs",
        "",
        f"- CPU: {m.get('cpu')}, {m.get('cores')} cores; memory {m.get('memory_gib')} GiB; "
        f"{m.get('os')} ({m.get('machine')})",
        f"- Python {m.get('python')}; "
        + ", ".join(f"{name} {v}" for name, v in versions.items() if v),
        "",
        "| Run | file | started (UTC) | finished (UTC) | duration | load average at start (1/5/15 min) | at end |",
        "|---|---|---|---|---:|---|---|",
    ]
    for i, (run, path) in enumerate(zip(runs, paths, strict=True)):
        seconds = sum(b.get("seconds", 0) for b in run.get("benchmarks", {}).values())
        lines.append(
            f"| run {i + 1} | `{path.name}` | {run.get('started')} | {run.get('finished')} "
            f"| {seconds / 60:.1f} min | {_load(run.get('load_start'))} | {_load(run.get('load_end'))} |"
        )
    other = [
        i + 1 for i, r in enumerate(runs[1:], 1) if r.get("machine", {}).get("versions") != versions
    ]
    if other:
        lines += ["", f"Run(s) {other} used other library versions: see their JSON files."]
    names = list(runs[0].get("benchmarks", {}))
    lines += [
        "",
        "Duration of each benchmark (s) and the 1-minute load average before and after it:",
        "",
        "| Benchmark | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for name in names:
        cells = []
        for run in runs:
            b = get(run, "benchmarks", name) or {}
            if not b:
                cells.append("-")
                continue
            failed = " **failed**" if b.get("error") else ""
            lb, la = b.get("load_before") or [0], b.get("load_after") or [0]
            cells.append(f"{b.get('seconds', 0):.0f} (load {lb[0]:.1f} → {la[0]:.1f}){failed}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


INTRO = """# Benchmarks

Each benchmark compares mediakit with the obvious alternative **in the same run** on the same
machine and prints the ratio, so the figures below are comparable with each other even though
absolute numbers move from machine to machine. The routes are measured as users meet them: the
FastAPI and Django reference servers (async and WSGI) each in their own process, against an
anchor in the same run (a direct S3 GET, botocore presigning, boto3 `upload_fileobj`), with the
server's CPU per request next to the latency.

This page is generated from two full runs:

```console
$ python -m benchmarks    # run 1 (or: nox -s bench), 10-20 minutes
$ python -m benchmarks    # run 2
$ python -m benchmarks.report {run1} {run2}
```

Each run writes `benchmarks/results/<UTC time>.json`: every figure with its anchor, each
benchmark's duration and the load average around it, the machine's facts.
`python -m benchmarks.report` with no arguments takes the two newest full runs. One benchmark:
`python -m benchmarks NAME` (`--quick` for a smoke run, not for this page); the route parts:
`python -m benchmarks.routes --only seek|first|listing|upload|growth --servers fastapi,...`.

{host}
"""


def host_speed(runs: Sequence[Run]) -> str:
    """How fast the machine was in each run, from two anchors that mediakit does not
    touch: a direct S3 GET of 64 KiB (p50) and boto3's `upload_fileobj` speed. The goals
    in milliseconds are absolute, so a run on a slowed host (a shared VM whose neighbours
    take CPU) misses them for reasons outside mediakit; the ratios hold."""
    cells = []
    for i, run in enumerate(runs):
        direct = [num((get(_servers(run), k, "seek") or {}).get("direct_ms")) for k in KINDS]
        known = [d for d in direct if d is not None]
        upload = num(upload_anchor(run, None, "1").get("mib_s"))
        parts = []
        if known:
            parts.append(f"a direct S3 GET {min(known):.2f}-{max(known):.2f} ms at p50")
        if upload is not None:
            parts.append(f"boto3 `upload_fileobj` {upload:.0f} MiB/s")
        if parts:
            cells.append(f"run {i + 1}: " + ", ".join(parts))
    if not cells:
        return ""
    return (
        "How fast the host was (anchors mediakit does not touch; on this 2-core VM a quiet "
        "host gives a direct GET of about 1.5 ms and boto3 about 180 MiB/s): "
        + "; ".join(cells)
        + ". The goals in milliseconds are absolute: a slowed host misses them whatever "
        "mediakit does, while the ratios hold."
    )


def page(
    runs: Sequence[Run], paths: Sequence[Path], assets: str = ASSETS
) -> tuple[str, dict[str, str]]:
    """The page's Markdown and its charts (file name -> SVG)."""
    if any(r.get("quick") for r in runs):
        warning = [
            "!!! warning",
            "    Made from a quick run (smaller inputs, fewer samples): not figures to quote.",
            "",
        ]
    else:
        warning = []
    drawn = charts(runs)
    files = {f"{name}.svg": svg(chart) for name, chart in drawn.items()}
    chart_lines = ["## Charts", "", "One chart per family; each bar pair is run 1 and run 2.", ""]
    for name, chart in drawn.items():
        chart_lines += [f"![{chart.title}]({assets}/{name}.svg)", ""]
    intro = INTRO.format(
        run1=_shown(paths[0]),
        run2=_shown(paths[1]) if len(paths) > 1 else "",
        host=host_speed(runs),
    ).replace(" \n```", "\n```")
    sections = [(b.get("markdown") or "").strip() for b in runs[0].get("benchmarks", {}).values()]
    body = [
        intro,
        *warning,
        *goal_sections(runs),
        *chart_lines,
        *growth_section(runs),
        *machine_section(runs, paths),
        "## Every benchmark, run 1",
        "",
        "Each benchmark's own section from run 1 (run 2's are in its results file).",
        "",
        "\n\n".join(_demote(s) for s in sections if s),
        "",
    ]
    return "\n".join(body), files


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (as the lead types it)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return f"benchmarks/results/{path.name}" if not path.is_absolute() else str(path)


def _demote(section: str) -> str:
    """One heading level down, so the sections sit under "Every benchmark"."""
    return re.sub(r"^(#{2,5}) ", lambda m: "#" + m.group(1) + " ", section, flags=re.M)


def write(runs_paths: Sequence[Path], page_path: Path = PAGE) -> list[Path]:
    """Write the page and its charts; return the files written."""
    runs = [results.load(p) for p in runs_paths]
    text, files = page(runs, runs_paths)
    assets = page_path.parent / ASSETS
    assets.mkdir(parents=True, exist_ok=True)
    for old in assets.glob("*.svg"):
        if old.name not in files:
            old.unlink()
    written = [page_path]
    page_path.write_text(text)
    for name, content in files.items():
        (assets / name).write_text(content)
        written.append(assets / name)
    return written


def main(argv: list[str]) -> int:
    """``python -m benchmarks.report [--page PATH] [RUN.json ...]``."""
    page_path = PAGE
    if "--page" in argv:
        i = argv.index("--page")
        page_path = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    paths = [Path(a) for a in argv]
    if not paths:
        paths = results.full_runs()[-2:]
        if not paths:
            print(
                "no full run in benchmarks/results/: run `python -m benchmarks` (twice), "
                "or name the results files"
            )
            return 2
    if len(paths) > 2:
        print("give one or two results files")
        return 2
    for path in written if (written := write(paths, page_path)) else []:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
