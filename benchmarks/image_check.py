"""Door check benchmark: what :func:`~mediakit.processing.images.check_image` costs per
uploaded image, against the obvious alternative (decoding the whole image to verify it).

On the same generated photo (``benchmarks.thumbnails.make_photo``, 6000x4000 = 24 MP) saved
as JPEG (q90), PNG and WebP (q80), and on the 68-byte PNG bomb declaring 20000x20000:

- **check_image** (what every upload pays before it is answered): header and declared size,
  then JPEG decoded at 1/8 scale (``draft``), PNG ``verify()`` (chunk CRCs) plus the
  data-length bound, WebP's container parsed;
- **full decode** (the alternative): ``Image.open(...).load()``.

Time is the best of several runs in this process; memory is the peak RSS a fresh process
gains running the operation once (Linux ``VmHWM`` after resetting it, minus ``VmRSS``
before), so it counts Pillow's C allocations that ``tracemalloc`` cannot see.

Run: ``python -m benchmarks image_check`` (``--quick``: a 6 MP photo, fewer repeats).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from benchmarks.thumbnails import make_photo
from mediakit.processing.images import check_image

CAP = 100_000_000

_CHILD = """
import sys
from PIL import Image
from mediakit.processing.images import check_image

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

path, how = sys.argv[1], sys.argv[2]
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS")
if how == "check":
    check_image(path, max_pixels={cap})
else:
    with Image.open(path) as im:
        im.load()
print((status("VmHWM") - before) / 1024)
"""


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _peak_mib(path: Path, how: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(cap=CAP), str(path), how],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def _decode(path: Path) -> None:
    with Image.open(path) as im:
        im.load()


def run(quick: bool = False) -> str:
    """Measure and return the Markdown section."""
    from tests.hostile_images import tiny_bomb_png

    width, height = (3000, 2000) if quick else (6000, 4000)
    repeats = 2 if quick else 3  # best of 3: the full run fits in ~12 minutes
    rows = [
        "| image | file | check_image | full decode | ratio | check peak RSS | decode peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="mk-bench-check-") as tmp:
        jpeg = make_photo(Path(tmp) / "photo.jpg", width, height)
        with Image.open(jpeg) as im:
            im.load()
            im.save(Path(tmp) / "photo.png", "PNG")
            im.save(Path(tmp) / "photo.webp", "WEBP", quality=80, method=0)
        for name in ("photo.jpg", "photo.png", "photo.webp"):
            path = Path(tmp) / name
            check_image(path, max_pixels=CAP)  # warm up
            check_ms = _best_ms(lambda p=path: check_image(p, max_pixels=CAP), repeats)
            decode_ms = _best_ms(lambda p=path: _decode(p), repeats)
            rows.append(
                f"| {name.split('.')[1].upper()} {width}x{height} | "
                f"{path.stat().st_size / 2**20:.1f} MiB | {check_ms:.1f} ms | {decode_ms:.1f} ms | "
                f"{decode_ms / check_ms:.1f}x | {_peak_mib(path, 'check'):.1f} MiB | "
                f"{_peak_mib(path, 'decode'):.1f} MiB |"
            )
        bomb = tiny_bomb_png(20000, 20000)

        def refuse() -> None:
            try:
                check_image(io.BytesIO(bomb), max_pixels=CAP)
            except Exception:
                return
            raise AssertionError("the bomb passed")

        bomb_ms = _best_ms(refuse, 200)
        rows.append(
            f"| PNG bomb declaring 20000x20000 | {len(bomb)} B | {bomb_ms * 1000:.0f} µs "
            "| (refused) | | | |"
        )
    return (
        "## Image door check (per uploaded image)\n\n"
        + "\n".join(rows)
        + "\n\nRatio: full decode time / check_image time (higher: the check is cheaper).\n"
    )


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
