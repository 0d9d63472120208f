"""Audio tier benchmark: MP3 320k + MP3 192k + AAC 128k of a 180 s FLAC track.

Measured in one run, with the same ffmpeg binary, on the same generated FLAC (stereo,
44.1 kHz, a tone over pink noise so the encoders have real work):

- **hand-written ffmpeg** (the anchor): the best single command with three outputs, one
  decode feeding all encoders;
- **mediakit** :func:`~mediakit.processing.audio.encode_tiers`: the same single run plus
  the hardening (forced demuxer, protocol whitelist, bounded probing, stripped tags, own
  process group, wall-clock timeout) and the verification of every tier (each read back
  to its last packet, its head decoded, its duration checked) that the hand-written command
  does not do; and the same with every tier decoded in full (``verify="full"``).

Run: ``python -m benchmarks.audio`` (``--quick`` for a 30 s track and fewer repeats).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mediakit.processing.audio import encode_tiers, find_ffmpeg
from mediakit.settings import Settings


def make_track(ffmpeg: str, path: Path, seconds: int) -> Path:
    """A stereo 44.1 kHz FLAC: a 440 Hz tone over pink noise."""
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=44100:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"anoisesrc=color=pink:amplitude=0.2:sample_rate=44100:duration={seconds}",
            "-filter_complex",
            "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo",
            "-c:a",
            "flac",
            str(path),
        ],
        check=True,
    )
    return path


def hand_written(ffmpeg: str, src: Path, out: Path) -> None:
    """The best single ffmpeg command with three outputs, written by hand."""
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(src),
            "-map",
            "0:a",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "320k",
            str(out / "high.mp3"),
            "-map",
            "0:a",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
            str(out / "medium.mp3"),
            "-map",
            "0:a",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            str(out / "low.m4a"),
        ],
        check=True,
    )


def _time_s(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(quick: bool = False) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios."""
    seconds = 30 if quick else 180
    repeats = 2 if quick else 3  # best of 3: the full run must fit in ~12 minutes
    ffmpeg = find_ffmpeg(Settings())
    with tempfile.TemporaryDirectory(prefix="mk-bench-audio-") as tmp:
        root = Path(tmp)
        src = make_track(ffmpeg, root / "track.flac", seconds)
        a, b = root / "a", root / "b"
        a.mkdir()
        b.mkdir()
        # Interleave the two so that background load hits both alike.
        anchor_samples: list[float] = []
        ours_samples: list[float] = []
        full_samples: list[float] = []
        for _ in range(repeats):
            anchor_samples.append(_time_s(lambda: hand_written(ffmpeg, src, a)))
            ours_samples.append(
                _time_s(lambda: encode_tiers(src, b, input_format="flac", ffmpeg=ffmpeg))
            )
            full_samples.append(
                _time_s(
                    lambda: encode_tiers(src, b, input_format="flac", ffmpeg=ffmpeg, verify="full")
                )
            )
        # Best of N (as timeit reports): the figure least disturbed by other processes.
        anchor, ours, full = min(anchor_samples), min(ours_samples), min(full_samples)
        src_mb = src.stat().st_size / 1e6
    version = subprocess.run(
        [ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    lines = [
        "## Audio tiers",
        "",
        f"MP3 320k + MP3 192k + AAC 128k (M4A) of a {seconds} s stereo FLAC ({src_mb:.1f} MB); "
        f"best of {repeats} interleaved runs; `{version[:60]}`.",
        "",
        "| pipeline | s | time vs anchor |",
        "|---|---:|---:|",
        f"| hand-written single ffmpeg command, three outputs (anchor) | {anchor:.2f} | 1.00x |",
        f"| **mediakit encode_tiers** (hardened; tiers read to the end, head decoded: the default) "
        f"| {ours:.2f} | {ours / anchor:.2f}x |",
        f'| mediakit encode_tiers, `verify="full"` (every tier decoded in full) | {full:.2f} | '
        f"{full / anchor:.2f}x |",
        "",
        f"Goal: at most 1.1x the anchor's time -> {ours / anchor:.2f}x.",
        "",
        "Command: `python -m benchmarks.audio`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
