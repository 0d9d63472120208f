"""Thumbnail benchmark: three WebP thumbnails (320, 640, 1280) of a 24 MP JPEG.

Measured in one run on the same generated 6000x4000 JPEG (quality 90, gradients plus
noise, about 7 MB, like a camera photo):

- **mediakit** :func:`~mediakit.processing.images.make_thumbnails` (one draft-mode decode
  at the scale of the largest box, smaller sizes derived from the largest, WebP encodes in
  parallel threads, metadata stripped);
- **naive Pillow** (the anchor): ``Image.open`` + ``thumbnail((s, s))`` + WebP save per
  size, reopening the file each time, with Pillow's default WebP settings; and the same with
  mediakit's WebP settings, to show what the encoder effort alone is worth;
- **pyvips** (libvips, if installed: ``pip install "pyvips[binary]"``): its best practice,
  ``thumbnail`` once at 1280 (shrink-on-load) and the smaller sizes from that, with the
  same WebP quality and effort as mediakit.

Run: ``python -m benchmarks.thumbnails`` (``--quick`` for fewer repeats).
"""

from __future__ import annotations

import io
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


def mediakit_thumbnails(path: Path) -> list[bytes]:
    """mediakit's pipeline."""
    result = make_thumbnails(str(path), SIZES, max_pixels=100_000_000)
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


NAIVE = "naive Pillow, default WebP settings (anchor)"
NAIVE_SAME = f"naive Pillow, WebP q{_WEBP_QUALITY} method {_WEBP_METHOD}"
VIPS = "pyvips (thumbnail once, smaller from largest)"
OURS = "**mediakit make_thumbnails**"


def run(quick: bool = False) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios."""
    rounds = 3 if quick else 9
    with tempfile.TemporaryDirectory(prefix="mk-bench-thumbs-") as tmp:
        path = make_photo(Path(tmp) / "photo.jpg")
        size_mb = path.stat().st_size / 1e6
        pipelines: dict[str, Callable[[], object]] = {
            NAIVE: lambda: naive_pillow(path),
            NAIVE_SAME: lambda: naive_pillow(path, quality=_WEBP_QUALITY, method=_WEBP_METHOD),
        }
        vips_note = ""
        try:
            import pyvips  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401

            pipelines[VIPS] = lambda: pyvips_thumbnails(path)
        except ImportError:
            vips_note = "\npyvips is not installed here, so its row is missing.\n"
        pipelines[OURS] = lambda: mediakit_thumbnails(path)
        best = _interleaved_ms(pipelines, rounds)
    ours, naive = best[OURS][0], best[NAIVE][0]
    vips = best[VIPS][0] if VIPS in best else None
    ours_cpu = best[OURS][1]
    lines = [
        "## Thumbnails",
        "",
        f"Three WebP thumbnails (320, 640, 1280 px) of a {WIDTH}x{HEIGHT} JPEG "
        f"({size_mb:.1f} MB, quality 90); best of {rounds} interleaved rounds.",
        "",
        "| pipeline | wall ms | mediakit speed-up | CPU ms (all threads) | CPU ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (ms, cpu_ms) in best.items():
        lines.append(
            f"| {name} | {ms:.0f} | {ms / ours:.2f}x | {cpu_ms:.0f} | {cpu_ms / ours_cpu:.2f}x |"
        )
    lines.append("")
    verdict = f"Goal: at least 5x naive Pillow -> {naive / ours:.1f}x"
    if vips is not None:
        verdict += f"; no slower than pyvips -> {vips / ours:.2f}x its speed"
    lines.append(verdict + ".")
    lines.append(vips_note)
    lines.append("Command: `python -m benchmarks.thumbnails`")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
