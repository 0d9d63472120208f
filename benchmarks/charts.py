"""Horizontal bar charts as standalone SVG, for docs/benchmarks.md.

Hand-written rather than matplotlib: the charts are plain bars with a goal line, the
project has no plotting dependency, and a few dozen lines of SVG keep the docs build free
of one. Horizontal bars so that long labels read in full: a label is wrapped onto as many
lines as it needs (never cut), the title is the chart's own, and the value axis says its
unit and which way is better.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

WIDTH = 760
LABEL_CHARS = 34  # wrap labels at this many characters
CHAR_PX = 6.6  # average width of a 12 px sans-serif character
LINE_PX = 15
BAR_PX = 14
COLOURS = ("#3f51b5", "#ff9800", "#009688", "#9c27b0")


@dataclass
class Chart:
    """One chart: ``bars`` are ``(label, [value per series])``; ``None`` is not measured."""

    title: str
    unit: str
    bars: list[tuple[str, list[float | None]]]
    series: list[str] = field(default_factory=lambda: ["run 1", "run 2"])
    lower_is_better: bool = True
    goal: float | None = None
    goal_label: str = "goal"
    note: str = ""

    def measured(self) -> bool:
        """True when at least one bar has a value."""
        return any(v is not None for _, values in self.bars for v in values)


def _nice_max(value: float) -> tuple[float, float]:
    """An axis end at or above ``value`` and a tick step (1, 2 or 5 times a power of 10)."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".")


def wrap(label: str, width: int = LABEL_CHARS) -> list[str]:
    """``label`` on lines of at most ``width`` characters (long words are broken, not cut)."""
    return textwrap.wrap(label, width, break_long_words=True, break_on_hyphens=False) or [""]


def svg(chart: Chart) -> str:
    """The chart as a standalone SVG document."""
    series = chart.series[: max((len(v) for _, v in chart.bars), default=1)]
    label_w = (
        int(
            min(LABEL_CHARS, max((len(w) for b, _ in chart.bars for w in wrap(b)), default=10))
            * CHAR_PX
        )
        + 16
    )
    left, right = label_w, 70
    top = 44 + (LINE_PX if chart.note else 0) + (20 if len(series) > 1 else 0)
    plot_w = WIDTH - left - right
    values = [v for _, vs in chart.bars for v in vs if v is not None]
    end, step = _nice_max(max([*values, chart.goal or 0.0, 0.0]))
    scale = plot_w / end
    rows: list[str] = []
    y = top
    for label, vs in chart.bars:
        lines = wrap(label)
        group_h = max(len(lines) * LINE_PX, len(series) * (BAR_PX + 2)) + 10
        text_y = y + (group_h - len(lines) * LINE_PX) / 2 + 11
        for i, line in enumerate(lines):
            rows.append(
                f'<text x="{left - 8}" y="{text_y + i * LINE_PX:.1f}" text-anchor="end">'
                f"{escape(line)}</text>"
            )
        bars_h = len(series) * (BAR_PX + 2)
        bar_y = y + (group_h - bars_h) / 2
        for s, value in enumerate(vs[: len(series)]):
            by = bar_y + s * (BAR_PX + 2)
            if value is None:
                rows.append(
                    f'<text x="{left + 4}" y="{by + 11:.1f}" class="na">not measured</text>'
                )
                continue
            w = max(value * scale, 0.5)
            rows.append(
                f'<rect x="{left}" y="{by:.1f}" width="{w:.1f}" height="{BAR_PX}" '
                f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(label)}, '
                f"{escape(series[s])}: {_fmt(value)} {escape(chart.unit)}</title></rect>"
            )
            rows.append(
                f'<text x="{left + w + 4:.1f}" y="{by + 11:.1f}" class="v">{_fmt(value)}</text>'
            )
        y += group_h
    bottom = y
    axis: list[str] = [
        f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" class="ax"/>',
        f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" class="ax"/>',
    ]
    tick = 0.0
    while tick <= end + step / 2:
        x = left + tick * scale
        axis.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" class="grid"/>')
        axis.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{_fmt(tick)}</text>')
        tick += step
    better = "lower is better" if chart.lower_is_better else "higher is better"
    axis.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{bottom + 32}" text-anchor="middle" class="unit">'
        f"{escape(chart.unit)} ({better})</text>"
    )
    if chart.goal is not None:
        x = left + chart.goal * scale
        axis.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" class="goal"/>'
            f'<text x="{x + 3:.1f}" y="{top - 7}" class="goal-t">'
            f"{escape(chart.goal_label)}: {_fmt(chart.goal)}</text>"
        )
    head = [f'<text x="12" y="22" class="title">{escape(chart.title)}</text>']
    if chart.note:
        head.append(f'<text x="12" y="{22 + LINE_PX + 2}" class="note">{escape(chart.note)}</text>')
    if len(series) > 1:
        x = left
        legend_y = top - 34
        for s, name in enumerate(series):
            head.append(
                f'<rect x="{x}" y="{legend_y}" width="10" height="10" '
                f'fill="{COLOURS[s % len(COLOURS)]}"/>'
                f'<text x="{x + 14}" y="{legend_y + 9}">{escape(name)}</text>'
            )
            x += 24 + int(len(name) * CHAR_PX)
    height = int(bottom + 44)
    style = (
        "text{font:12px sans-serif;fill:#222}.title{font-size:15px;font-weight:bold}"
        ".note{fill:#555}.v{font-size:11px}.na{fill:#999;font-style:italic}"
        ".unit{font-weight:bold}.ax{stroke:#444}.grid{stroke:#ddd}"
        ".goal{stroke:#d32f2f;stroke-dasharray:5 3;stroke-width:1.5}"
        ".goal-t{fill:#d32f2f;font-size:11px}"
    )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(chart.title)}">',
            f"<title>{escape(chart.title)}</title>",
            f"<style>{style}</style>",
            '<rect width="100%" height="100%" fill="#fff"/>',
            *head,
            *axis,
            *rows,
            "</svg>",
            "",
        ]
    )


def distinct_titles(charts: Sequence[Chart]) -> bool:
    """True when no two charts share a title."""
    titles = [c.title for c in charts]
    return len(titles) == len(set(titles))
