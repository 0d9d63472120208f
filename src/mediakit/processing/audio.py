"""Audio tiers with ffmpeg: one decode, every encoder, in one hardened ffmpeg run.

ffmpeg reads untrusted input here, so every run:

- **forces the input format** from the server-sniffed MIME type (:data:`MIME_TO_FFMPEG_FORMAT`),
  so ffmpeg's own probing never picks a surprising demuxer (playlists, image2...);
- allows **no network protocols** (``-protocol_whitelist file,pipe``), reads no stdin
  (``-nostdin``) and bounds probing (``-probesize``, ``-analyzeduration``);
- runs in **its own process group**, killed with ``SIGKILL`` on a wall-clock timeout, and
  (on Linux) killed by the kernel if the process that started it dies, so a crashed
  server leaves no encoder running on;
- writes only into the directory it is given, and removes what it wrote on any failure.

Tags and cover art are **not** copied into the tiers (``-map 0:a:0 -map_metadata -1``):
titles live in the database, and upload tags may carry personal data or megabytes of art.

Encoding the tiers is ffmpeg's job (hand-written code here only builds the command line and
reads ffmpeg's reports). Each tier is then read back to its last packet, decoded (its first
seconds by default, or in full), and its duration compared with the source's before anything
is returned: a tier is never published unverified.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import attrs

from mediakit.errors import ConfigurationError, ProcessingError
from mediakit.models import AUDIO_TIERS, AudioTier, TierSpec
from mediakit.settings import Settings

__all__ = [
    "MIME_TO_FFMPEG_FORMAT",
    "AudioInfo",
    "EncodedTier",
    "encode_tiers",
    "find_ffmpeg",
    "input_format_for",
    "probe",
]

MIME_TO_FFMPEG_FORMAT: dict[str, str] = {
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "mov",
    "audio/x-m4a": "mov",
    "audio/m4a": "mov",
    "video/mp4": "mov",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/x-opus+ogg": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/aac": "aac",
    "audio/x-hx-aac-adts": "aac",
}
"""Sniffed MIME type -> the ffmpeg demuxer forced for it."""

DEFAULT_PROBESIZE = 5_000_000
"""Bytes ffmpeg may read to find the stream parameters (``-probesize``)."""
_ANALYZE_US = 10_000_000  # -analyzeduration: 10 s of media at most
_FAST_VERIFY_DECODE_S = 10
Verify = Literal["fast", "full"]
_DURATION_RE = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_BITRATE_RE = re.compile(r"bitrate: (\d+) kb/s")
_STREAM_RE = re.compile(r"Stream #0:\d+.*?: Audio: ([A-Za-z0-9_]+)[^\n]*?(\d+) Hz, ([^,\n]+)")
_OUT_TIME_RE = re.compile(r"^out_time_us=(\d+)$", re.MULTILINE)


@attrs.frozen
class AudioInfo:
    """What ffmpeg says about an audio file."""

    duration_s: float | None
    """Seconds; decoded in full when the header does not say (``None`` only if empty)."""
    bitrate_kbps: int | None
    codec: str
    """ffmpeg's decoder name (``flac``, ``mp3``, ``aac``, ``opus``...)."""
    sample_rate: int | None = None
    channels: int | None = None


@attrs.frozen
class EncodedTier:
    """One verified tier written by :func:`encode_tiers`."""

    tier: AudioTier
    path: Path
    size: int
    bitrate_kbps: int
    duration_s: float
    content_type: str
    extension: str


def input_format_for(content_type: str) -> str:
    """The ffmpeg demuxer for a sniffed MIME type; ``ProcessingError`` if none."""
    fmt = MIME_TO_FFMPEG_FORMAT.get(content_type.split(";")[0].strip().lower())
    if fmt is None:
        raise ProcessingError(f"Audio of type {content_type!r} cannot be processed.")
    return fmt


_INPUT_FORMATS = frozenset(MIME_TO_FFMPEG_FORMAT.values())


def _check_input_format(input_format: str) -> None:
    # Only plain audio demuxers: never hls, concat, lavfi, image2... whatever a caller passes.
    if input_format not in _INPUT_FORMATS:
        raise ProcessingError(
            f"ffmpeg input format {input_format!r} is not allowed; "
            f"allowed: {', '.join(sorted(_INPUT_FORMATS))}."
        )


def find_ffmpeg(settings: Settings) -> str:
    """The ffmpeg binary to use, checked to have the ``libmp3lame`` and ``aac`` encoders.

    Order: ``settings.ffmpeg_path`` (``MEDIA_FFMPEG_PATH``), then imageio-ffmpeg's bundled
    binary (the ``audio`` extra), then ``ffmpeg`` on ``PATH``.

    Raises:
        ConfigurationError: no usable ffmpeg (the message says how to get one).
    """
    if settings.ffmpeg_path:
        exe = shutil.which(settings.ffmpeg_path) or settings.ffmpeg_path
        problem = _check_encoders(exe)
        if problem:
            raise ConfigurationError("MEDIA_FFMPEG_PATH", problem)
        return exe
    candidates: list[str] = []
    with contextlib.suppress(Exception):  # not installed, or no binary for this platform
        import imageio_ffmpeg

        candidates.append(str(imageio_ffmpeg.get_ffmpeg_exe()))
    on_path = shutil.which("ffmpeg")
    if on_path:
        candidates.append(on_path)
    problems = []
    for exe in candidates:
        problem = _check_encoders(exe)
        if problem is None:
            return exe
        problems.append(problem)
    raise ConfigurationError(
        "MEDIA_FFMPEG_PATH",
        "no usable ffmpeg found; install the audio extra (pip install 'mediakit[audio]') "
        "or set MEDIA_FFMPEG_PATH to an ffmpeg with libmp3lame and aac"
        + (f" ({'; '.join(problems)})" if problems else ""),
    )


@functools.lru_cache(maxsize=8)
def _check_encoders(exe: str) -> str | None:
    try:
        out = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-encoders"],
            capture_output=True,
            timeout=30,
            check=False,
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{exe} cannot be run: {exc}"
    names = {line.split()[1] for line in out.splitlines() if len(line.split()) > 1}
    missing = [enc for enc in ("libmp3lame", "aac") if enc not in names]
    if missing:
        return f"{exe} lacks the encoder(s) {', '.join(missing)}"
    return None


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies, or ``None``.

    ``prctl(PR_SET_PDEATHSIG)`` is looked up here, before any fork, so the child only
    makes one C call between ``fork`` and ``exec``.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


_DIE_WITH_PARENT = _parent_death_signal()


def _popen(cmd: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ffmpeg: no stdin, pipes for its reports, its own session, dies with us."""
    return subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_DIE_WITH_PARENT,  # one C call, looked up before the fork
    )


@attrs.frozen
class _Result:
    returncode: int
    stdout: str
    stderr: str


def _run(cmd: Sequence[str], *, deadline: float, what: str) -> _Result:
    """Run ffmpeg in its own process group; kill the whole group at ``deadline``."""
    proc = _popen(cmd)
    try:
        out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ProcessingError(
            f"ffmpeg took too long to {what} (MEDIA_FFMPEG_TIMEOUT_SECONDS) and was stopped."
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    return _Result(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=10)


def _input_args(path: Path | str, input_format: str, probesize: int) -> list[str]:
    return [
        "-protocol_whitelist",
        "file,pipe",
        "-probesize",
        str(probesize),
        "-analyzeduration",
        str(_ANALYZE_US),
        "-f",
        input_format,
        "-i",
        f"file:{path}",
    ]


def _last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def _parse_header(
    stderr: str,
) -> tuple[float | None, int | None, str | None, int | None, int | None]:
    """Duration, bitrate, codec, sample rate and channels of input #0 from ffmpeg's log."""
    stderr = stderr.split("Stream mapping:")[0].split("Output #0")[0]
    duration = None
    m = _DURATION_RE.search(stderr)
    if m and "Estimating duration from bitrate" not in stderr:
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    b = _BITRATE_RE.search(stderr)
    bitrate = int(b[1]) if b else None
    s = _STREAM_RE.search(stderr)
    if not s:
        return duration, bitrate, None, None, None
    layout = s[3].strip()
    channels = {"mono": 1, "stereo": 2}.get(layout)
    if channels is None:
        c = re.match(r"(\d+) channels", layout)
        channels = int(c[1]) if c else 6  # 5.1, 7.1...: more than stereo
    return duration, bitrate, s[1], int(s[2]), channels


def _decoded_duration(progress: str) -> float | None:
    times = [int(t) for t in _OUT_TIME_RE.findall(progress)]
    return max(times) / 1e6 if times else None


def probe(
    path: Path | str,
    *,
    ffmpeg: str,
    input_format: str,
    timeout_s: float = 60.0,
    probesize: int = DEFAULT_PROBESIZE,
) -> AudioInfo:
    """Duration, bitrate and codec of an audio file, read with ``ffmpeg`` alone (no ffprobe).

    The header is read first; when it gives no trustworthy duration the audio is decoded
    to a null sink and the decoded length is used.

    Raises:
        ProcessingError: not decodable as ``input_format``, no audio stream, or timeout.
    """
    _check_input_format(input_format)
    deadline = time.monotonic() + timeout_s
    res = _run(
        [ffmpeg, "-hide_banner", "-nostdin", *_input_args(path, input_format, probesize)],
        deadline=deadline,
        what="read the audio header",
    )
    duration, bitrate, codec, rate, channels = _parse_header(res.stderr)
    if codec is None:
        raise ProcessingError(
            f"No decodable audio stream as {input_format}: {_last_error(res.stderr)}"
        )
    if duration is None:
        res = _run(
            [
                ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-nostats",
                "-progress",
                "pipe:1",
                *_input_args(path, input_format, probesize),
                "-map",
                "0:a:0",
                "-f",
                "null",
                "-",
            ],
            deadline=deadline,
            what="decode the audio",
        )
        if res.returncode != 0:
            raise ProcessingError(f"The audio could not be decoded: {_last_error(res.stderr)}")
        duration = _decoded_duration(res.stdout)
    if bitrate is None and duration:
        bitrate = round(os.path.getsize(path) * 8 / duration / 1000)
    return AudioInfo(duration, bitrate, codec, rate, channels)


def _tier_args(spec: TierSpec) -> list[str]:
    args = ["-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    # Streaming tiers are mono or stereo at 44.1/48 kHz whatever came in (a 96 kHz 5.1
    # master would otherwise give a 5.1 AAC at 128 kbit/s); aformat is a no-op when the
    # input already fits, and ffmpeg picks the nearest rate and a proper downmix otherwise.
    args += ["-af", "aformat=channel_layouts=mono|stereo:sample_rates=44100|48000"]
    args += ["-c:a", spec.codec, "-b:a", f"{spec.bitrate_kbps}k"]
    if spec.extension == "m4a":
        args += ["-movflags", "+faststart", "-f", "ipod"]
    else:
        args += ["-f", spec.extension]
    return args


def encode_tiers(
    src_path: Path | str,
    out_dir: Path | str,
    *,
    input_format: str,
    ffmpeg: str,
    tiers: Sequence[TierSpec] = AUDIO_TIERS,
    timeout_s: float = 900.0,
    probesize: int = DEFAULT_PROBESIZE,
    verify: Verify = "fast",
) -> list[EncodedTier]:
    """Encode ``src_path`` into every tier with one ffmpeg run, then verify each tier.

    Output files are ``{out_dir}/{tier}.{ext}``. Each is read back to its last packet and
    decoded (its first seconds with ``verify="fast"``, all of it with ``"full"``), and must
    last as long as the source (within 0.5 s or 2 %). The whole call, verification
    included, is bounded by ``timeout_s``.

    Raises:
        ProcessingError: the source is not decodable as ``input_format``, is truncated,
            an encoder failed, a tier failed verification, or time ran out. Every file
            this call wrote has been removed by then.
    """
    _check_input_format(input_format)
    deadline = time.monotonic() + timeout_s
    out = Path(out_dir)
    outputs = [(spec, out / f"{spec.tier}.{spec.extension}") for spec in tiers]
    try:
        return _encode_and_verify(
            Path(src_path), outputs, input_format, ffmpeg, deadline, probesize, verify
        )
    except BaseException:
        for _, path in outputs:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise


def _encode_and_verify(
    src: Path,
    outputs: list[tuple[TierSpec, Path]],
    input_format: str,
    ffmpeg: str,
    deadline: float,
    probesize: int,
    verify: Verify,
) -> list[EncodedTier]:
    # One process, one decode: the input's header is read from the same run's log.
    cmd = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "info",
        "-nostats",
        "-progress",
        "pipe:1",
        *_input_args(src, input_format, probesize),
    ]
    for spec, path in outputs:
        cmd += [*_tier_args(spec), f"file:{path}"]
    res = _run(cmd, deadline=deadline, what="encode the audio tiers")
    header_duration, _, codec, _, _ = _parse_header(res.stderr)
    if codec is None:
        raise ProcessingError(
            f"No decodable audio stream as {input_format}: {_last_error(res.stderr)}"
        )
    if res.returncode != 0:
        raise ProcessingError(f"ffmpeg could not encode the audio: {_last_error(res.stderr)}")
    source_duration = _decoded_duration(res.stdout)
    if not source_duration or source_duration <= 0:
        raise ProcessingError("The audio decodes to nothing (no samples).")
    if header_duration is not None and not _close(header_duration, source_duration):
        raise ProcessingError(
            f"The audio is truncated or corrupt: its header says {header_duration:.2f} s "
            f"but only {source_duration:.2f} s decode."
        )
    return _verify(outputs, ffmpeg, source_duration, deadline, verify)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.5, 0.02 * max(a, b))


def _verify(
    outputs: list[tuple[TierSpec, Path]],
    ffmpeg: str,
    source_duration: float,
    deadline: float,
    verify: Verify,
) -> list[EncodedTier]:
    """Check every tier (in parallel processes) and compare its duration with the source's.

    ``full``: decode every tier to the end. ``fast`` (default): read every packet of the
    tier to its end (its timestamps give the duration, so a short or truncated file is
    caught) and decode its first seconds (the bitstream and codec set-up decode); about a
    tenth of the CPU of a full decode, which matters next to an encode that takes seconds.
    """
    for spec, path in outputs:  # all checked before any process starts, so none is left behind
        if not path.exists() or path.stat().st_size == 0:
            raise ProcessingError(f"ffmpeg wrote no {spec.tier} tier.")
    procs = []
    for spec, path in outputs:
        procs.append(
            _popen(
                [
                    ffmpeg,
                    "-hide_banner",
                    "-nostdin",
                    "-v",
                    "error",
                    "-xerror",
                    "-nostats",
                    "-progress",
                    "pipe:1",
                    *_input_args(
                        path,
                        "mov" if spec.extension == "m4a" else spec.extension,
                        DEFAULT_PROBESIZE,
                    ),
                    *(
                        ["-map", "0:a:0", "-f", "null", "-"]
                        if verify == "full"
                        else [
                            *("-map", "0:a:0", "-c:a", "copy", "-f", "null", "-"),
                            *("-map", "0:a:0", "-t", str(_FAST_VERIFY_DECODE_S), "-f", "null", "-"),
                        ]
                    ),
                ],
            )
        )
    try:
        results = []
        for (spec, path), proc in zip(outputs, procs, strict=True):
            try:
                o, e = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise ProcessingError(
                    "ffmpeg took too long to verify the audio tiers "
                    "(MEDIA_FFMPEG_TIMEOUT_SECONDS) and was stopped."
                ) from None
            if proc.returncode != 0:
                raise ProcessingError(
                    f"The {spec.tier} tier does not decode: {_last_error(e.decode(errors='replace'))}"
                )
            duration = _decoded_duration(o.decode(errors="replace"))
            if duration is None or not _close(duration, source_duration):
                raise ProcessingError(
                    f"The {spec.tier} tier lasts {duration} s, the source {source_duration:.2f} s."
                )
            results.append(
                EncodedTier(
                    tier=spec.tier,
                    path=path,
                    size=path.stat().st_size,
                    bitrate_kbps=spec.bitrate_kbps,
                    duration_s=duration,
                    content_type=spec.content_type,
                    extension=spec.extension,
                )
            )
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                _kill_group(proc)
            # A tier that failed early leaves the later processes' pipes unread: close them.
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
