"""The benchmark run's results file and the page made from two runs: figures are kept per
benchmark, the page states each goal of issue 15 met or not per run (and "not measured"
where a benchmark is missing), and the charts keep every label whole with distinct titles
and units on the axis."""

from __future__ import annotations

import json
import math
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from benchmarks import __main__ as bench_main
from benchmarks import report, results
from benchmarks.charts import Chart, svg, wrap

SVG = "{http://www.w3.org/2000/svg}"


def _text(doc: str) -> str:
    root = ET.fromstring(doc)
    return " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_a_chart_keeps_long_labels_whole_and_says_its_unit() -> None:
    label = "naive Pillow, same settings (WebP q80 method 0), the anchor of this chart"
    doc = svg(
        Chart("Thumbnails: time", "milliseconds", [(label, [12.5, 13.0]), ("short", [3.0, None])])
    )
    text = _text(doc)
    assert " ".join(wrap(label)) in text  # every word, on wrapped lines
    assert all(len(line) <= 34 for line in wrap(label))
    assert "…" not in text
    assert "milliseconds (lower is better)" in text
    assert "not measured" in text
    assert "run 1" in text
    assert "run 2" in text
    assert ET.fromstring(doc).find(f"{SVG}title").text == "Thumbnails: time"  # type: ignore[union-attr]


def test_a_goal_line_is_drawn_inside_the_axis() -> None:
    doc = svg(Chart("CPU per seek", "ms", [("fastapi", [1.0, 1.5])], goal=2.0))
    assert "goal: 2" in _text(doc)
    root = ET.fromstring(doc)
    goal = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "goal")
    axis_end = max(float(e.get("x2", 0)) for e in root.iter(f"{SVG}line") if e.get("class") == "ax")
    assert float(goal.get("x1", 0)) <= axis_end


def test_tables_and_plain_values() -> None:
    md = "## A\n\n| x | y (ms) |\n|---|---:|\n| one | 1.5 |\n\n### B\n\n| k |\n|---|\n| v |\n"
    assert results.tables(md) == [
        {"heading": "A", "caption": "", "header": ["x", "y (ms)"], "rows": [["one", "1.5"]]},
        {"heading": "B", "caption": "", "header": ["k"], "rows": [["v"]]},
    ]
    assert results.plain({1: (2.0, math.nan), "a": [math.inf]}) == {"1": [2.0, None], "a": [None]}


def _run(
    seek_ms: float, *, thumbs: bool = True, started: str = "2026-12-06T02:20:00+00:00"
) -> dict[str, Any]:
    servers = {
        kind: {
            "seek": {"route_ms": 2.0 + seek_ms, "direct_ms": 2.0, "cpu_ms": 1.5, "bare_ms": 1.0},
            "first": {"seek_ms": 12.0, "listing_ms": 20.0, "second_seek_ms": 3.0},
            "listing": [[10, 2.0, 1.0], [50, 4.0, 2.0], [100, 6.0, 4.0]],
            "upload1": {"mib_s": 95.0, "cpu_s_per_gib": 2.0, "rss_growth_mib": 3.0},
            "upload8": {"mib_s": 150.0, "cpu_s_per_gib": 2.2, "rss_growth_mib": 9.0},
            "growth": [
                {
                    "mib": 64,
                    "route_mib_s": 900.0,
                    "direct_mib_s": 1500.0,
                    "cpu_s_per_gib": 0.5,
                    "rss_before_mib": 100.0,
                    "rss_peak_mib": 104.0,
                    "rss_growth_mib": 4.0,
                },
                {
                    "mib": 1024,
                    "route_mib_s": 950.0,
                    "direct_mib_s": 1600.0,
                    "cpu_s_per_gib": 0.4,
                    "rss_before_mib": 100.0,
                    "rss_peak_mib": 105.0,
                    "rss_growth_mib": 5.0,
                },
            ],
        }
        for kind in report.KINDS
    }
    # an anchor run kept next to one server's upload is that server's anchor
    servers["django-wsgi"]["anchor1"] = {"mib_s": 190.0, "cpu_s_per_gib": 2.0, "rss_mib": 90.0}
    benchmarks: dict[str, Any] = {
        "routes": {
            "seconds": 200.0,
            "load_before": [0.5, 0.4, 0.3],
            "load_after": [1.0, 0.5, 0.3],
            "error": None,
            "markdown": "## Routes, as users meet them\n\n### Seek\n\nText.\n",
            "tables": [],
            "figures": {
                "servers": servers,
                "upload_anchor": {
                    "1": {"mib_s": 100.0, "cpu_s_per_gib": 2.0, "rss_mib": 90.0},
                    "8": {"mib_s": 160.0, "cpu_s_per_gib": 2.0, "rss_mib": 120.0},
                },
                "upload_mib": 1024,
                "botocore_urls_ms": {"10": 20.0, "50": 100.0, "100": 200.0},
            },
        },
        "presign": {
            "seconds": 30.0,
            "figures": {
                "per_url_us": {"botocore": 400.0, "uncached": 4.0, "miss": 5.5, "hit": 0.3},
                "service_page_ms": {"warm": 2.0, "cold": 5.0, "ahead": 2.5, "background": 2.0},
            },
            "markdown": "## Presigned URLs\n",
        },
    }
    if thumbs:
        md = (
            "## Thumbnails\n\n| pipeline | wall ms | output KB |\n|---|---:|---:|\n"
            "| naive Pillow, default WebP (q80 method 4) | 600 | 290 |\n"
            "| **mediakit make_thumbnails** | 160 | 300 |\n"
        )
        benchmarks["thumbnails"] = {"seconds": 40.0, "markdown": md, "tables": results.tables(md)}
    return {
        "started": started,
        "finished": started,
        "quick": False,
        "complete": True,
        "load_start": [0.2, 0.2, 0.2],
        "load_end": [1.2, 0.9, 0.5],
        "machine": {
            "cpu": "Test CPU @ 2.80GHz",
            "cores": 2,
            "python": "3.11.7",
            "versions": {"boto3": "1.35.0", "Pillow": "11.0.0"},
        },
        "benchmarks": benchmarks,
    }


def test_the_page_states_each_goal_per_run(tmp_path: Path) -> None:
    runs = [_run(1.0), _run(4.0, thumbs=False)]
    text, files = report.page(
        runs, [Path("benchmarks/results/r1.json"), Path("benchmarks/results/r2.json")]
    )
    seek = text[text.index("### 64 KiB") :].split("\n### ")[0]
    assert "| fastapi: route over a direct S3 GET (p50) | < 3 ms | +1.00 ms | +4.00 ms" in seek
    assert "**not met** (run 2)" in seek
    assert "| fastapi: server CPU per seek | < 2 ms | 1.50 ms | 1.50 ms | met in both |" in seek
    summary = text[text.index("## Issue 15 goals") : text.index("### 64 KiB")]
    assert "| met | not met |" not in summary
    assert "| **met** | not met |" in summary  # the seek row: met in run 1 only
    assert "Async vs sync" in summary
    assert "| not measured | not measured |" in summary
    thumbs = text[text.index("### Thumbnails") :].split("\n## ")[0]
    assert "1.03x" in thumbs
    assert "not measured" in thumbs
    upload = text[text.index("### Upload through") :].split("\n### ")[0]
    assert (
        "speed over boto3 `upload_fileobj`, 1024 MiB | >= 0.9x | 0.95x (95 vs 100 MiB/s)" in upload
    )
    assert (
        "| django-wsgi: speed over boto3 `upload_fileobj`, 1024 MiB | >= 0.9x "
        "| 0.50x (95 vs 190 MiB/s)" in upload
    )
    # how cost grows, both runs in each cell
    assert "| fastapi | 1 GiB | 1600 / 1600 | 950 / 950 | 0.59 / 0.59 |" in text
    assert "| fastapi | 100 (400) | 6.00 / 6.00 | 4.00 / 4.00 | 200.0 / 200.0 |" in text
    # the machine and the commands
    assert "Test CPU @ 2.80GHz, 2 cores" in text
    assert "boto3 1.35.0" in text
    assert "0.20/0.20/0.20" in text
    assert "1.20/0.90/0.50" in text
    assert (
        "python -m benchmarks.report benchmarks/results/r1.json benchmarks/results/r2.json" in text
    )
    # every chart is referenced, titles differ, sections sit one level down
    titles = [ET.fromstring(doc).find(f"{SVG}title").text for doc in files.values()]  # type: ignore[union-attr]
    assert len(titles) == len(set(titles)) >= 6
    assert "fastapi: a view doing nothing" in _text(files["seek-latency.svg"])
    for name in files:
        assert f"(assets/benchmarks/{name})" in text
    assert "\n### Routes, as users meet them" in text
    assert "\n#### Seek" in text


def test_write_and_main(tmp_path: Path) -> None:
    paths = []
    for i, seek in enumerate((1.0, 2.0)):
        path = tmp_path / f"run{i}.json"
        path.write_text(json.dumps(_run(seek)))
        paths.append(path)
    page = tmp_path / "docs" / "benchmarks.md"
    page.parent.mkdir()
    stale = page.parent / "assets" / "benchmarks" / "gone.svg"
    stale.parent.mkdir(parents=True)
    stale.write_text("<svg/>")
    assert report.main(["--page", str(page), *map(str, paths)]) == 0
    assert "## How cost grows" in page.read_text()
    assert not stale.exists()
    assert (page.parent / "assets" / "benchmarks" / "seek-cpu.svg").exists()
    assert report.main(["--page", str(page), *map(str, paths * 2)]) == 2


def test_a_run_writes_figures_durations_and_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = types.ModuleType("benchmarks.fake_good")

    def run_good(quick: bool = False) -> str:
        results.keep("fake_good", {"x": (1.5, 2)})
        return "## Good\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"

    bad = types.ModuleType("benchmarks.fake_bad")

    def run_bad(quick: bool = False) -> str:
        raise RuntimeError("broken on purpose")

    good.run, bad.run = run_good, run_bad  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.fake_good", good)
    monkeypatch.setitem(sys.modules, "benchmarks.fake_bad", bad)
    monkeypatch.setattr(bench_main, "ALL", ["fake_good", "fake_bad"])
    out = tmp_path / "run.json"
    assert bench_main.main(["--quick", "--out", str(out)]) == 1
    run = results.load(out)
    assert run["quick"]
    assert run["complete"]
    assert run["machine"]["cores"]
    good_run, bad_run = run["benchmarks"]["fake_good"], run["benchmarks"]["fake_bad"]
    assert good_run["figures"] == {"x": [1.5, 2]}
    assert good_run["error"] is None
    assert good_run["tables"][0]["rows"] == [["1", "2"]]
    assert good_run["seconds"] >= 0
    assert len(good_run["load_before"]) == 3
    assert "broken on purpose" in bad_run["error"]
    assert results.full_runs(tmp_path) == []  # a quick run never makes the page
    assert bench_main.main(["nonsense"]) == 2


THUMBS = """## Thumbnails

| pipeline | wall ms | ratio | CPU ms (all threads) | CPU ratio |
|---|---:|---:|---:|---:|
| naive Pillow, default WebP (q80 method 4) (anchor) | 600 | 3.75x | 600 | 3.51x |
| **mediakit make_thumbnails** | 160 | 1.00x | 171 | 1.00x |
| mediakit make_thumbnails, method=0 | 120 | 0.75x | 130 | 0.76x |

### Bytes and quality per size

**generated photo** (6000x4000, 7.0 MB). Bytes ratio and PSNR difference against the anchor.

| size | pipeline | bytes | PSNR dB | bytes ratio | PSNR diff | bytes at equal PSNR |
|---:|---|---:|---:|---:|---:|---:|
| 1280 | naive Pillow, default WebP (q80 method 4) (anchor) | 100000 | 31.40 | 1.000x | +0.00 | - |
| 1280 | **mediakit make_thumbnails** | 101000 | 31.50 | 1.010x | +0.10 | 0.990x |
| 1280 | mediakit make_thumbnails, method=0 | 140000 | 31.30 | 1.400x | -0.10 | - |
| 640 | **mediakit make_thumbnails** | 40000 | 34.00 | 1.020x | +0.00 | 1.041x |

**generated graphic** (6000x4000, 5.1 MB). Bytes ratio and PSNR difference against the anchor.

| size | pipeline | bytes | PSNR dB | bytes ratio | PSNR diff | bytes at equal PSNR |
|---:|---|---:|---:|---:|---:|---:|
| 320 | **mediakit make_thumbnails** | 9000 | 30.00 | 0.900x | -1.00 | {graphic} |
"""


@pytest.mark.parametrize(
    ("graphic", "figure", "met"),
    [
        ("< 7000 B", "worst 1.041x (generated photo, 640 px; 3 sizes and inputs)", "met"),
        ("> 9000 B", "worst beyond the sweep (generated graphic, 320 px;", "not met"),
    ],
)
def test_thumbnail_bytes_at_equal_quality_are_read_per_size_and_input(
    graphic: str, figure: str, met: str
) -> None:
    run = _run(1.0, thumbs=False)
    md = THUMBS.replace("{graphic}", graphic)
    run["benchmarks"]["thumbnails"] = {"markdown": md, "tables": results.tables(md)}
    measures = {what: m for what, _, m in report._thumbs(run)}
    size = measures[
        "mediakit's bytes at the anchor's quality (PSNR) over naive Pillow's default WebP"
    ]
    assert size.text.startswith(figure)
    assert size.met is (met == "met")
    time = measures["mediakit's time for 320/640/1280 of a 24 MP JPEG"]
    assert time.text == "160 ms (CPU 171 ms, all threads)"
    assert time.met is True
    chart = report.charts([run])["thumbnails-size"]
    assert [label for label, _ in chart.bars] == [
        "generated photo, 1280 px",
        "generated photo, 640 px",
        "generated graphic, 320 px",
    ]
    assert chart.goal == 1.05


def test_the_thumbnails_goal_says_why_its_time_is_out_of_reach() -> None:
    """Each run's critical path line from the thumbnails benchmark is quoted under the
    thumbnails goal; a run without one (an older or failed benchmark) adds nothing."""
    runs = [_run(1.0), _run(1.0), _run(1.0, thumbs=False)]
    path = (
        "Critical path (decode, then the largest resize, then its encode): 95 + 30 + 135 = 260 ms"
    )
    runs[0]["benchmarks"]["thumbnails"]["markdown"] += f"\n{path}; first.\n"
    runs[1]["benchmarks"]["thumbnails"]["markdown"] += f"\n{path}; second.\n"
    text, _ = report.page(runs, [Path(f"benchmarks/results/r{i}.json") for i in range(3)])
    thumbs = text[text.index("### Thumbnails") :].split("\n## ")[0]
    assert "The time is out of reach at the bytes goal." in thumbs
    assert f"- run 1: {path}; first." in thumbs
    assert f"- run 2: {path}; second." in thumbs
    assert "- run 3:" not in thumbs
    text, _ = report.page(runs[2:], [Path("benchmarks/results/r.json")])
    assert "out of reach" not in text[text.index("### Thumbnails") :].split("\n## ")[0]
