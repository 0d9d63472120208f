"""Thumbnail benchmark: three WebP thumbnails (320, 640, 1280) of a 24 MP JPEG.

Measured in one run on the same generated 6000x4000 JPEG (quality 90, gradients plus
noise, about 7 MB, like a camera photo). Every pipeline writes the same three WebP files
(longest side 320, 640, 1280, no metadata); the rows differ only where said:

- **naive Pillow, same settings** (the anchor): ``Image.open`` + ``thumbnail((s, s))`` +
  WebP save per size, reopening the file each time, with mediakit's WebP settings
  (quality 80, method 0). ``thumbnail`` already decodes with ``draft`` (at twice the
  target size) and resizes with Pillow's default bicubic filter;
- **naive Pillow, default WebP**: the same with Pillow's default WebP settings (quality
  80, method 4): what the encoder effort alone is worth;
- **pyvips** (libvips, if installed: ``pip install "pyvips[binary]"``): its best practice,
  ``thumbnail`` once at 1280 (shrink-on-load, lanczos3) and the smaller sizes from that,
  with the same WebP quality and effort as mediakit, metadata stripped;
- **mediakit** :func:`~mediakit.processing.images.make_thumbnails` (one draft-mode decode
  at the scale of the largest box, Lanczos to the 1280, each smaller size from the next
  larger with bicubic, WebP encodes in parallel threads, metadata stripped), and the same
  with ``encode_threads=1`` (everything on the calling thread);
- **the 1280 alone** (not a pipeline, a lower bound): one draft-mode decode, a bicubic
  resize and one encode of the largest thumbnail only, the least work any pipeline here does.

Each output is checked to be the same job: total bytes written, and the PSNR of the decoded
thumbnails against a reference made from the full-resolution decode with Lanczos (higher is
closer; the WebP q80 loss dominates it, so equal figures mean the resizing lost nothing).

Run: ``python -m benchmarks.thumbnails`` (``--quick`` for fewer repeats).
"""

from __future__ import annotations

import io
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops

from mediakit.processing.images import _WEBP_METHOD, _WEBP_QUALITY, make_thumbnails

SIZES = (320, 640, 1280)
WIDTH, HEIGHT = 6000, 4000


def make_photo(path: Path, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """A photo-like JPEG: smooth gradients, coarse texture and fine grain, quality 90."""
    g = Image.linear_gradient("L").resize((width, height))
    b = Image.radial_gradient("L").resize((width, height))
    coarse = Image.effect_noise((width // 4, height // 4), 40).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = Image.effect_noise((width, height), 12)
    r = ImageChops.add(ImageChops.multiply(g, coarse), grain, scale=1.3)
    photo = Image.merge(
        "RGB", (r, ImageChops.blend(b, coarse, 0.5), ImageChops.blend(g, grain, 0.3))
    )
    photo.save(path, "JPEG", quality=90)
    return path


def naive_pillow(path: Path, **webp: int) -> list[bytes]:
    """Open, thumbnail and save once per size (what most code does)."""
    out = []
    for size in SIZES:
        with Image.open(path) as im:
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.save(buf, "WEBP", **webp)
            out.append(buf.getvalue())
    return out


def mediakit_thumbnails(path: Path, encode_threads: int | None = None) -> list[bytes]:
    """mediakit's pipeline."""
    result = make_thumbnails(
        str(path), SIZES, max_pixels=100_000_000, encode_threads=encode_threads
    )
    return [t.data for t in result.thumbnails]


def pyvips_thumbnails(path: Path) -> list[bytes]:
    """libvips: shrink-on-load once to the largest size, the smaller ones from it."""
    import pyvips  # type: ignore[import-untyped,import-not-found,unused-ignore]

    # copy_memory: the sequential JPEG load can be read once, so keep the 1280 in memory.
    largest = pyvips.Image.thumbnail(str(path), SIZES[-1]).copy_memory()
    out = [largest.webpsave_buffer(Q=_WEBP_QUALITY, effort=_WEBP_METHOD, keep="none")]
    for size in reversed(SIZES[:-1]):
        small = largest.thumbnail_image(size)
        out.append(small.webpsave_buffer(Q=_WEBP_QUALITY, effort=_WEBP_METHOD, keep="none"))
    return out


def largest_only(path: Path) -> bytes:
    """The floor: the 1280 thumbnail alone, the least work any of these pipelines does.

    One decode at the DCT scale that covers the 1280 box (the real box, 1280x853: asking
    ``draft`` for 1280x1280 would decode at 1/2 scale, not 1/4), a bicubic resize and one
    WebP encode with the same settings.
    """
    with Image.open(path) as im:
        box = _fit(im.size, SIZES[-1])
        im.draft("RGB", box)
        small = im.resize(box, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    small.save(buf, "WEBP", quality=_WEBP_QUALITY, method=_WEBP_METHOD)
    return buf.getvalue()


def _psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two same-size RGB images, dB."""
    hist = ImageChops.difference(a, b).histogram()
    squared = sum(count * (i % 256) ** 2 for i, count in enumerate(hist))
    mse = squared / (a.width * a.height * 3)
    return float("inf") if mse == 0 else 10 * math.log10(255**2 / mse)


def _quality(outputs: list[bytes], reference: dict[int, Image.Image]) -> str:
    """``"44.9 / 47.4 / 51.3"``: PSNR of each output (largest first) against the reference."""
    figures = {}
    for data in outputs:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "WEBP":
                return f"not WebP ({im.format})"
            size = max(im.size)
            ref = reference.get(size)
            if ref is None or ref.size != im.size:
                return f"unexpected size {im.size}"
            figures[size] = _psnr(im.convert("RGB"), ref)
    if sorted(figures) != sorted(SIZES):
        return f"sizes {sorted(figures)}, not {list(SIZES)}"
    return " / ".join(f"{figures[s]:.1f}" for s in reversed(SIZES))


def _interleaved_ms(
    pipelines: dict[str, Callable[[], object]], rounds: int
) -> dict[str, tuple[float, float]]:
    """Best wall time and best CPU time of each pipeline over ``rounds`` interleaved rounds, ms.

    Interleaving spreads background load over all pipelines alike; the best of N (as
    ``timeit`` reports) is the figure least disturbed by other processes on a shared machine.
    CPU time (all threads of this process) shows the work done, whatever the machine's load.
    """
    for fn in pipelines.values():
        fn()  # warm-up (imports, page cache)
    wall: dict[str, list[float]] = {name: [] for name in pipelines}
    cpu: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in range(rounds):
        for name, fn in pipelines.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    return {name: (min(wall[name]), min(cpu[name])) for name in pipelines}


SETTINGS = f"WebP q{_WEBP_QUALITY} method {_WEBP_METHOD}"
NAIVE = f"naive Pillow, same settings ({SETTINGS}) (anchor)"
NAIVE_DEFAULT = "naive Pillow, default WebP (q80 method 4)"
VIPS = f"pyvips, thumbnail once, smaller from largest ({SETTINGS})"
OURS = "**mediakit make_thumbnails**"
OURS_INLINE = "mediakit make_thumbnails, encode_threads=1"
FLOOR = "the 1280 alone: one decode, resize, encode (lower bound)"


def run(quick: bool = False) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios."""
    rounds = 3 if quick else 9
    with tempfile.TemporaryDirectory(prefix="mk-bench-thumbs-") as tmp:
        path = make_photo(Path(tmp) / "photo.jpg")
        size_mb = path.stat().st_size / 1e6
        pipelines: dict[str, Callable[[], list[bytes]]] = {
            NAIVE: lambda: naive_pillow(path, quality=_WEBP_QUALITY, method=_WEBP_METHOD),
            NAIVE_DEFAULT: lambda: naive_pillow(path),
        }
        vips_note = ""
        try:
            import pyvips  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401

            pipelines[VIPS] = lambda: pyvips_thumbnails(path)
        except ImportError:
            vips_note = "\npyvips is not installed here, so its row is missing.\n"
        pipelines[OURS] = lambda: mediakit_thumbnails(path)
        pipelines[OURS_INLINE] = lambda: mediakit_thumbnails(path, encode_threads=1)
        # The same job: every pipeline's outputs against one full-resolution reference.
        with Image.open(path) as full:
            full.load()
            boxes = [_fit(full.size, s) for s in SIZES]
            reference = {max(b): full.resize(b, Image.Resampling.LANCZOS) for b in boxes}
        outputs = {name: fn() for name, fn in pipelines.items()}
        quality = {name: _quality(out, reference) for name, out in outputs.items()}
        kbytes = {name: sum(map(len, out)) / 1000 for name, out in outputs.items()}
        timed: dict[str, Callable[[], object]] = dict(pipelines)
        timed[FLOOR] = lambda: largest_only(path)
        best = _interleaved_ms(timed, rounds)
    ours, naive = best[OURS], best[NAIVE]
    lines = [
        "## Thumbnails",
        "",
        f"Three WebP thumbnails (320, 640, 1280 px) of a {WIDTH}x{HEIGHT} JPEG "
        f"({size_mb:.1f} MB, quality 90); best of {rounds} interleaved rounds. "
        "Speed-up: the row's time over mediakit's. PSNR: the decoded thumbnails (1280 / 640 / "
        "320) against a full-resolution Lanczos reference.",
        "",
        "| pipeline | wall ms | mediakit speed-up | CPU ms (all threads) | CPU ratio "
        "| output KB | PSNR dB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (ms, cpu_ms) in best.items():
        kb = f"{kbytes[name]:.0f}" if name in kbytes else "-"
        lines.append(
            f"| {name} | {ms:.0f} | {ms / ours[0]:.2f}x | {cpu_ms:.0f} "
            f"| {cpu_ms / ours[1]:.2f}x | {kb} | {quality.get(name, '-')} |"
        )
    lines.append("")
    verdict = (
        f"Goal: at least 5x naive Pillow with the same settings -> {naive[0] / ours[0]:.1f}x "
        f"wall, {naive[1] / ours[1]:.1f}x CPU (vs Pillow's default WebP settings: "
        f"{best[NAIVE_DEFAULT][0] / ours[0]:.1f}x wall)"
    )
    if VIPS in best:
        verdict += f"; no slower than pyvips -> {best[VIPS][0] / ours[0]:.2f}x its speed"
    lines.append(verdict + ".")
    floor = best[FLOOR]
    lines.append(
        f"The 1280 thumbnail alone takes {floor[0]:.0f} ms wall ({floor[1]:.0f} ms CPU), "
        f"{floor[1] / ours[1]:.0%} of mediakit's CPU time: no pipeline that makes it can be "
        f"more than {naive[0] / floor[0]:.1f}x faster than the anchor here "
        f"({naive[1] / floor[1]:.1f}x in CPU time)."
    )
    lines.append(vips_note)
    lines.append("Command: `python -m benchmarks.thumbnails`")
    return "\n".join(lines) + "\n"


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """``size`` scaled so its longest side is ``box`` (the thumbnails' geometry)."""
    scale = box / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
