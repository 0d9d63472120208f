"""Audio tiers with real ffmpeg on generated audio: one run, hardened, verified."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mediakit.errors import ConfigurationError, ProcessingError
from mediakit.models import AUDIO_TIERS, AudioTier
from mediakit.processing.audio import (
    encode_tiers,
    find_ffmpeg,
    input_format_for,
    probe,
)
from tests.fixtures_media import AUDIO_FORMATS, sine_audio
from tests.processing.conftest import make_settings
from tests.servers import need

pytestmark = pytest.mark.ffmpeg


def _ffmpeg_pids_reading(path: Path) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in cmdline and b"ffmpeg" in cmdline:
            found.append(int(pid))
    return found


def test_find_ffmpeg_has_the_encoders(need_ffmpeg: str) -> None:
    """The default ffmpeg (imageio-ffmpeg's or PATH's) has libmp3lame and aac."""
    exe = find_ffmpeg(make_settings())
    assert Path(exe).exists()
    assert find_ffmpeg(make_settings(ffmpeg_path=exe)) == exe


def test_find_ffmpeg_refuses_a_bad_configured_path(tmp_path: Path) -> None:
    """A configured binary that cannot run is a ConfigurationError naming MEDIA_FFMPEG_PATH."""
    with pytest.raises(ConfigurationError, match="MEDIA_FFMPEG_PATH"):
        find_ffmpeg(make_settings(ffmpeg_path=str(tmp_path / "no-such-ffmpeg")))
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text("#!/bin/sh\necho ' A..... flac  FLAC'\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigurationError, match="lacks the encoder"):
        find_ffmpeg(make_settings(ffmpeg_path=str(fake)))


@pytest.mark.parametrize(
    ("mime", "fmt"),
    [
        ("audio/flac", "flac"),
        ("audio/x-flac", "flac"),
        ("audio/mpeg", "mp3"),
        ("audio/mp4", "mov"),
        ("audio/x-m4a", "mov"),
        ("audio/ogg", "ogg"),
        ("audio/wav", "wav"),
        ("audio/x-wav", "wav"),
        ("audio/aac", "aac"),
    ],
)
def test_input_format_is_forced_from_the_sniffed_type(mime: str, fmt: str) -> None:
    """Each sniffed MIME type maps to one ffmpeg demuxer."""
    assert input_format_for(mime) == fmt


def test_unknown_type_has_no_input_format() -> None:
    """A type outside the audio allowlist is a ProcessingError."""
    with pytest.raises(ProcessingError, match="cannot be processed"):
        input_format_for("application/x-mpegurl")


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.mark.parametrize("name", list(AUDIO_FORMATS))
def test_tiers_from_each_format(
    name: str, audio_dir: Path, tmp_path: Path, need_ffmpeg: str
) -> None:
    """FLAC/WAV/MP3/Ogg/M4A give three verified tiers of the source's length, without tags."""
    src = sine_audio(audio_dir, name, seconds=2.0)
    fmt = input_format_for(AUDIO_FORMATS[name][2])
    tiers = encode_tiers(src, tmp_path, input_format=fmt, ffmpeg=need_ffmpeg, timeout_s=60)
    assert [(t.tier, t.bitrate_kbps, t.content_type, t.path.name) for t in tiers] == [
        (AudioTier.HIGH, 320, "audio/mpeg", "high.mp3"),
        (AudioTier.MEDIUM, 192, "audio/mpeg", "medium.mp3"),
        (AudioTier.LOW, 128, "audio/mp4", "low.m4a"),
    ]
    for t in tiers:
        assert t.size == t.path.stat().st_size > 0
        assert abs(t.duration_s - 2.0) < 0.1
        assert b"Secret Title" not in t.path.read_bytes()
        info = probe(
            t.path, ffmpeg=need_ffmpeg, input_format="mov" if t.extension == "m4a" else "mp3"
        )
        assert info.codec == ("aac" if t.extension == "m4a" else "mp3")
        assert info.duration_s is not None
        assert abs(info.duration_s - 2.0) < 0.1
    high = probe(tiers[0].path, ffmpeg=need_ffmpeg, input_format="mp3")
    assert high.bitrate_kbps is not None
    assert 300 <= high.bitrate_kbps <= 340
    assert sorted(p.name for p in tmp_path.iterdir()) == ["high.mp3", "low.m4a", "medium.mp3"]


def test_a_system_ffmpeg_works_too(audio_dir: Path, tmp_path: Path) -> None:
    """The distribution's ffmpeg (configured with MEDIA_FFMPEG_PATH) encodes the same tiers."""
    system = shutil.which("ffmpeg")
    need(
        system is not None,
        "no ffmpeg on PATH: apt-get install ffmpeg (imageio-ffmpeg's is tested above)",
    )
    assert system is not None
    exe = find_ffmpeg(make_settings(ffmpeg_path=system))
    src = sine_audio(audio_dir, "wav", seconds=1.0)
    tiers = encode_tiers(src, tmp_path, input_format="wav", ffmpeg=exe, timeout_s=60)
    assert [t.tier for t in tiers] == [AudioTier.HIGH, AudioTier.MEDIUM, AudioTier.LOW]


# A failed verification once left the other ffmpeg processes' pipes open: leaks fail here.
@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("verify", ["fast", "full"])
def test_verification_catches_a_short_or_damaged_tier(
    verify: str, audio_dir: Path, tmp_path: Path, need_ffmpeg: str
) -> None:
    """A tier cut short, or with a damaged start, fails verification (both modes)."""
    from mediakit.processing.audio import _verify

    src = sine_audio(audio_dir, "wav", seconds=4.0)
    tiers = encode_tiers(src, tmp_path, input_format="wav", ffmpeg=need_ffmpeg, verify=verify)  # type: ignore[arg-type]
    outputs = [(spec, t.path) for spec, t in zip(AUDIO_TIERS, tiers, strict=True)]
    deadline = time.monotonic() + 60
    assert len(_verify(outputs, need_ffmpeg, 4.0, deadline, verify)) == 3  # type: ignore[arg-type]
    high = tiers[0].path
    data = high.read_bytes()
    high.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProcessingError, match="high tier lasts"):
        _verify(outputs, need_ffmpeg, 4.0, deadline, verify)  # type: ignore[arg-type]
    low = tiers[2].path
    high.write_bytes(data)
    low.write_bytes(low.read_bytes()[:200])
    with pytest.raises(ProcessingError, match="low tier"):
        _verify(outputs, need_ffmpeg, 4.0, deadline, verify)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_missing_tier_fails_verification_without_leaving_a_process(
    audio_dir: Path, tmp_path: Path, need_ffmpeg: str
) -> None:
    """A tier ffmpeg did not write fails verification by name, and the checks of the
    tiers before it are never left running (a leaked process fails the test)."""
    from mediakit.processing.audio import _verify

    src = sine_audio(audio_dir, "wav", seconds=2.0)
    tiers = encode_tiers(src, tmp_path, input_format="wav", ffmpeg=need_ffmpeg)
    outputs = [(spec, t.path) for spec, t in zip(AUDIO_TIERS, tiers, strict=True)]
    tiers[2].path.unlink()
    with pytest.raises(ProcessingError, match="ffmpeg wrote no low tier"):
        _verify(outputs, need_ffmpeg, 2.0, time.monotonic() + 60, "full")
    gc.collect()


def test_probe_reports_duration_bitrate_codec(audio_dir: Path, need_ffmpeg: str) -> None:
    """probe() reads duration, bitrate, codec, rate and channels without ffprobe."""
    src = sine_audio(audio_dir, "flac", seconds=3.0, channels=1, sample_rate=22050)
    info = probe(src, ffmpeg=need_ffmpeg, input_format="flac")
    assert info.codec == "flac"
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert info.bitrate_kbps is not None
    assert info.bitrate_kbps > 0
    assert (info.sample_rate, info.channels) == (22050, 1)


def test_probe_decodes_when_the_header_has_no_duration(audio_dir: Path, need_ffmpeg: str) -> None:
    """Raw ADTS AAC has no duration in its header: probe decodes it to measure."""
    adts = audio_dir / "raw.aac"
    subprocess.run(
        [
            need_ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:a",
            "aac",
            "-f",
            "adts",
            str(adts),
        ],
        check=True,
    )
    info = probe(adts, ffmpeg=need_ffmpeg, input_format="aac")
    assert info.codec == "aac"
    assert info.duration_s == pytest.approx(2.0, abs=0.1)


def test_hi_res_surround_master_gives_stereo_tiers(
    audio_dir: Path, tmp_path: Path, need_ffmpeg: str
) -> None:
    """A 96 kHz 5.1 FLAC gives stereo tiers at 48 kHz (MP3 cannot hold more)."""
    src = audio_dir / "surround.flac"
    subprocess.run(
        [
            need_ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=96000:duration=1",
            "-af",
            "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0",
            "-c:a",
            "flac",
            str(src),
        ],
        check=True,
    )
    tiers = encode_tiers(src, tmp_path, input_format="flac", ffmpeg=need_ffmpeg, timeout_s=60)
    for t in tiers:
        info = probe(
            t.path, ffmpeg=need_ffmpeg, input_format="mov" if t.extension == "m4a" else "mp3"
        )
        assert (info.sample_rate, info.channels) == (48000, 2)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"fLaC" + b"\x00" * 4000, id="garbage-after-magic"),
        pytest.param(os.urandom(20000), id="random"),
        pytest.param(b"", id="empty"),
    ],
)
def test_corrupt_input_is_a_processing_error_and_leaves_nothing(
    data: bytes, tmp_path: Path, need_ffmpeg: str
) -> None:
    """Undecodable input raises ProcessingError and leaves no file in the output directory."""
    src = tmp_path / "in.flac"
    src.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProcessingError):
        encode_tiers(src, out, input_format="flac", ffmpeg=need_ffmpeg, timeout_s=60)
    assert list(out.iterdir()) == []


def test_truncated_input_is_refused(audio_dir: Path, tmp_path: Path, need_ffmpeg: str) -> None:
    """A FLAC cut in half (its header promises more) is refused as truncated."""
    full = sine_audio(audio_dir, "flac", seconds=4.0).read_bytes()
    src = tmp_path / "cut.flac"
    src.write_bytes(full[: len(full) // 2])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ProcessingError, match="truncated"):
        encode_tiers(src, out, input_format="flac", ffmpeg=need_ffmpeg, timeout_s=60)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("fmt", ["hls", "concat", "lavfi", "image2", "tee"])
def test_only_audio_demuxers_may_be_forced(fmt: str, tmp_path: Path, need_ffmpeg: str) -> None:
    """encode_tiers and probe refuse demuxers that can open other files or URLs."""
    src = tmp_path / "x"
    src.write_bytes(b"#EXTM3U\n")
    with pytest.raises(ProcessingError, match="not allowed"):
        encode_tiers(src, tmp_path, input_format=fmt, ffmpeg=need_ffmpeg)
    with pytest.raises(ProcessingError, match="not allowed"):
        probe(src, ffmpeg=need_ffmpeg, input_format=fmt)


def test_protocol_whitelist_blocks_network_access(tmp_path: Path, need_ffmpeg: str) -> None:
    """With mediakit's input options, a playlist pointing at http:// makes no connection."""
    from mediakit.processing.audio import DEFAULT_PROBESIZE, _input_args

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
        f"http://127.0.0.1:{port}/seg.mp3\n#EXT-X-ENDLIST\n"
    )
    try:
        res = subprocess.run(
            [
                need_ffmpeg,
                "-nostdin",
                "-v",
                "error",
                *_input_args(playlist, "hls", DEFAULT_PROBESIZE),
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert res.returncode != 0
        # Our whitelist, not only the hls demuxer's own default ('file,crypto,data'), applied:
        assert b"not on whitelist 'file,pipe'" in res.stderr
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_forced_format_refuses_other_content(
    audio_dir: Path, tmp_path: Path, need_ffmpeg: str
) -> None:
    """MP3 bytes sniffed (wrongly) as FLAC are not decoded as MP3: the format is forced."""
    src = sine_audio(audio_dir, "mp3", seconds=1.0)
    with pytest.raises(ProcessingError):
        encode_tiers(src, tmp_path, input_format="flac", ffmpeg=need_ffmpeg, timeout_s=60)


def test_wall_clock_timeout_kills_the_process_group(tmp_path: Path, need_ffmpeg: str) -> None:
    """ffmpeg stuck on a pipe nobody writes to is killed at the timeout, and cleaned up."""
    fifo = tmp_path / "stuck.wav"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    with pytest.raises(ProcessingError, match="took too long"):
        encode_tiers(fifo, out, input_format="wav", ffmpeg=need_ffmpeg, timeout_s=0.5)
    assert time.monotonic() - started < 10
    assert _ffmpeg_pids_reading(fifo) == []
    assert list(out.iterdir()) == []


def test_timeout_during_a_long_encode(tmp_path: Path, need_ffmpeg: str) -> None:
    """A source being written slowly (a never-ending pipe) is stopped at the timeout."""
    fifo = tmp_path / "slow.wav"
    os.mkfifo(fifo)
    wav = sine_audio(tmp_path, "wav", seconds=1.0).read_bytes()
    stop = threading.Event()

    def feed() -> None:
        try:
            with open(fifo, "wb") as f:
                f.write(wav[:44])  # a WAV header, then a trickle of samples
                while not stop.is_set():
                    f.write(b"\x00" * 64)
                    f.flush()
                    time.sleep(0.01)
        except (BrokenPipeError, OSError):
            pass

    out = tmp_path / "out"
    out.mkdir()
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        with pytest.raises(ProcessingError, match="took too long"):
            encode_tiers(fifo, out, input_format="wav", ffmpeg=need_ffmpeg, timeout_s=0.75)
        assert _ffmpeg_pids_reading(fifo) == []
        assert list(out.iterdir()) == []
    finally:
        stop.set()
        writer.join(5)
