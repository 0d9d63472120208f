"""Upload benchmark: 1 GiB through mediakit's upload pipeline vs boto3 ``upload_file``.

Both send the same number of bytes to the same local S3 server (nanio when installed,
else moto's server), in the same run:

* **anchor**: ``boto3`` ``S3Transfer.upload_file`` of a 1 GiB file on local disk (its
  defaults: 8 MiB parts, 10 threads) -- the fastest way to put a file into S3 from Python;
* **mediakit**: a 1 GiB ``multipart/form-data`` request body (one JPEG-headed file in the
  field ``files``), streamed in 64 KiB chunks as a web server hands them over, through
  :class:`~mediakit.uploads.MultipartReader` (parse + budget), sniffing, and
  :func:`~mediakit.uploads.ingest_images` into ``S3ObjectStore.put_stream`` (with its
  part transport, as ``from_settings`` builds it) and the row insert (in-memory
  repositories).

Each side runs in its own fresh process so its peak RSS (``VmHWM``) is its own.
Goals: mediakit at least 0.7x the anchor's throughput, peak RSS under 200 MiB.

Run: ``python -m benchmarks.upload`` (``--quick``: 128 MiB).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
BODY_CHUNK = 64 * 1024
BOUNDARY = "mediakit-bench-boundary-0123456789"
NARROW = 1
"""Parts in flight of the pipeline's second row (the first runs with the default)."""


def _jpeg_head() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "mediakit-test-access"),
        aws_secret_access_key=os.environ.get(
            "AWS_SECRET_ACCESS_KEY", "mediakit-test-secret-key-0123456789"
        ),
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=16,
        ),
    )


def _body(size: int) -> Iterator[bytes]:
    """A multipart/form-data body carrying one file of ``size`` bytes, in 64 KiB chunks."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    jpeg = _jpeg_head()
    block = bytes(range(256)) * (BODY_CHUNK // 256)
    first = head + jpeg + block[: BODY_CHUNK - len(jpeg)]
    yield first
    remaining = size - (len(first) - len(head))
    while remaining > 0:
        n = min(remaining, BODY_CHUNK)
        yield block if n == BODY_CHUNK else block[:n]
        remaining -= n
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _child_pipeline(url: str, bucket: str, size: int, window: int = 1) -> dict[str, float]:
    from mediakit.models import Principal
    from mediakit.repositories.memory import MemoryRepositories
    from mediakit.storage.s3 import S3ObjectStore
    from mediakit.uploads import MultipartReader, UploadLimits, ingest_images

    store = S3ObjectStore(
        client=_client(url),
        bucket=bucket,
        parts_in_flight=window,
        # as from_settings builds it by default (MEDIA_S3_FAST_UPLOADS)
        part_transport=S3ObjectStore.fast_part_transport(
            connect_timeout=2.0, read_timeout=30.0, pool_size=10
        ),
    )
    repos = MemoryRepositories.create()
    limits = UploadLimits(max_file_size=size + MiB, max_upload_size_total=size + 2 * MiB)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    reader = MultipartReader(
        _body(size), content_type=f"multipart/form-data; boundary={BOUNDARY}", limits=limits
    )
    images = ingest_images(
        reader, store=store, repos=repos, principal=Principal("bench", is_admin=True)
    )
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    assert images[0].size == size, images
    assert store.head(images[0].original_key).size == size
    rss = _peak_rss_kib()
    return {"seconds": seconds, "cpu": cpu, "rss_kib": rss}


def _peak_rss_kib() -> float:
    """This process's peak RSS in KiB: ``VmHWM``, the high-water mark of its own memory.

    Not ``ru_maxrss``: Linux carries the parent's peak across ``fork``/``exec`` into it, so
    a child of the full run's process (over 1 GiB by then) reported the parent's peak."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _child_boto3(url: str, bucket: str, path: str) -> dict[str, float]:
    client = _client(url)
    key = f"anchor/{uuid.uuid4().hex}"
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    client.upload_file(path, bucket, key)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == os.path.getsize(path)
    rss = _peak_rss_kib()
    return {"seconds": seconds, "cpu": cpu, "rss_kib": rss}


def _spawn(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.upload", "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _server() -> tuple[str, Any, Any]:
    """Start nanio (else moto); returns (name, handle, context manager)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests import servers

    if shutil.which("nanio") or Path(sys.executable).with_name("nanio").exists():
        cm = servers.running(servers.start_nanio)
        name = "nanio"
    else:
        cm = servers.running(servers.start_moto)
        name = "moto server"
    handle = cm.__enter__()
    return name, handle, cm


def run(quick: bool = False, *, size_mib: int | None = None) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios.

    ``size_mib`` overrides the payload size (the tests use a few MiB as a smoke run).
    """
    from mediakit.settings import Settings

    size = (size_mib or (128 if quick else 1024)) * MiB
    rounds = 1 if quick or size_mib else 2
    default_window = Settings().upload_parts_in_flight
    name, handle, cm = _server()
    tmp = Path(tempfile.mkdtemp(prefix="mediakit-bench-upload-"))
    try:
        bucket = "bench-upload"
        _client(handle.url).create_bucket(Bucket=bucket)
        path = tmp / "payload.bin"
        block = os.urandom(MiB)
        with path.open("wb") as f:
            for _ in range(size // MiB):
                f.write(block)
        anchor: list[dict[str, float]] = []
        ours: list[dict[str, float]] = []
        narrow: list[dict[str, float]] = []
        for _ in range(rounds):  # interleaved, best of each
            anchor.append(_spawn("boto3", handle.url, bucket, str(path)))
            ours.append(_spawn("pipeline", handle.url, bucket, f"{size}:{default_window}"))
            narrow.append(_spawn("pipeline", handle.url, bucket, f"{size}:{NARROW}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        cm.__exit__(None, None, None)

    a = min(anchor, key=lambda r: r["seconds"])
    m = min(ours, key=lambda r: r["seconds"])
    w = min(narrow, key=lambda r: r["seconds"])
    a_mibs, m_mibs = size / MiB / a["seconds"], size / MiB / m["seconds"]
    w_mibs = size / MiB / w["seconds"]
    ratio = m_mibs / a_mibs
    m_rss = max(r["rss_kib"] for r in ours) / 1024
    a_rss = max(r["rss_kib"] for r in anchor) / 1024
    w_rss = max(r["rss_kib"] for r in narrow) / 1024
    gib = size / (1024 * MiB)
    a_cpu, m_cpu, w_cpu = a["cpu"] / gib, m["cpu"] / gib, w["cpu"] / gib
    ok = "yes" if ratio >= 0.7 and m_rss < 200 else "no"
    return (
        f"## Upload: {size // MiB} MiB through the pipeline vs boto3 `upload_file`\n\n"
        f"Same {name} on 127.0.0.1, same run, best of {rounds}; each side in its own process.\n\n"
        "| path | seconds | MiB/s | vs anchor | CPU s per GiB | vs anchor | peak RSS (MiB) |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        f"| boto3 `upload_file` (anchor; file on disk, 10 threads) | {a['seconds']:.2f} | "
        f"{a_mibs:.0f} | 1.00x | {a_cpu:.2f} | 1.00x | {a_rss:.0f} |\n"
        "| mediakit multipart parse + sniff + budget + `put_stream` + row "
        f"({default_window} parts in flight, the default) | {m['seconds']:.2f} | "
        f"{m_mibs:.0f} | {ratio:.2f}x | {m_cpu:.2f} | {m_cpu / a_cpu:.2f}x | {m_rss:.0f} |\n"
        f"| the same, {NARROW} part in flight (`MEDIA_UPLOAD_PARTS_IN_FLIGHT={NARROW}`) | "
        f"{w['seconds']:.2f} | {w_mibs:.0f} | {w_mibs / a_mibs:.2f}x | {w_cpu:.2f} | "
        f"{w_cpu / a_cpu:.2f}x | {w_rss:.0f} |\n\n"
        f"Goal: at least 0.7x the anchor's throughput with peak RSS under 200 MiB: **{ok}**.\n"
    )


def _child_main(argv: list[str]) -> None:
    mode, url, bucket, arg = argv
    if mode == "pipeline":
        size, _, window = arg.partition(":")
        result = _child_pipeline(url, bucket, int(size), int(window or 1))
    else:
        result = _child_boto3(url, bucket, arg)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child_main(sys.argv[2:])
    else:
        print(run(quick="--quick" in sys.argv))
