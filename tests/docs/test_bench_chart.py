"""scripts/bench_chart.py draws one Mermaid bar chart per ratio column of the benchmark
tables, idempotently, and leaves the rest of the page alone."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]

PAGE = """# Benchmarks

Intro.

## presign: 100 URLs

| Signer | per URL (µs) | speed-up vs botocore |
|---|---:|---:|
| botocore `generate_presigned_url` | 70.1 | 1x |
| mediakit `CachedSigner.sign` (hit) | 0.25 | 280x |

## audio

| pipeline | s | time vs anchor |
|---|---:|---:|
| hand-written ffmpeg (anchor) | 2.00 | 1.00x |
| **mediakit encode_tiers** | 2.30 | 1.15x |

| Connections | p50 (ms) |
|---:|---:|
| 1 | 2.0 |
"""


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_chart", ROOT / "scripts" / "bench_chart.py"
    )
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_chart"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_one_chart_per_ratio_column_with_values_and_labels() -> None:
    charts = _module().charts(PAGE)
    assert len(charts) == 2
    presign, audio = charts
    assert 'title "presign: 100 URLs: speed-up vs botocore"' in presign
    assert (
        'x-axis ["botocore generate_presigned_url", "mediakit CachedSigner.sign (hit)"]' in presign
    )
    assert "bar [1, 280]" in presign
    assert 'title "audio: time vs anchor"' in audio
    assert "bar [1, 1.15]" in audio
    assert presign.startswith("```mermaid\nxychart-beta\n")


def test_block_is_inserted_before_the_sections_and_rewriting_is_idempotent(tmp_path: Path) -> None:
    mod = _module()
    once = mod.with_charts(PAGE)
    assert once.index("Intro.") < once.index(mod.BEGIN) < once.index(mod.END)
    assert once.index(mod.END) < once.index("## presign: 100 URLs")
    assert mod.with_charts(once) == once
    block = once[once.index(mod.BEGIN) : once.index(mod.END) + len(mod.END) + 2]
    assert once.replace(block, "") == PAGE
    page = tmp_path / "b.md"
    page.write_text(PAGE)
    assert mod.main(["--check", str(page)]) == 1
    assert mod.main([str(page)]) == 0
    assert mod.main(["--check", str(page)]) == 0


def test_a_page_without_ratios_is_left_alone() -> None:
    text = "# Benchmarks\n\nRun them with nox.\n"
    assert _module().with_charts(text) == text
