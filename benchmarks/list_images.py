"""List benchmark: ``GET /api/v1/user/images?limit=100`` on the FastAPI reference server.

The server runs as its own process (uvicorn, one worker) with S3 storage on a moto server, so
every URL in the page is a SigV4-presigned URL: 100 images with 4 URLs each (original and three
thumbnails) are 400 presigned URLs per response. A loopback load generator (an ``httpx``
async client in this process) keeps N connections busy for a fixed time and records the latency
of every request: p50, p99 and requests per second, at 1 connection (the latency of one request)
and at 8 (throughput under load, where latency includes queueing).

The anchor, measured in the same run: botocore's ``generate_presigned_url`` called 400 times
with the same parameters (what a naive implementation of this page would pay per request).

Run: ``python -m benchmarks.list_images`` (``--quick`` for a short run). Stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
from botocore.config import Config
from PIL import Image

from benchmarks.results import keep

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "bench-admin-token-0123456789"
USER = "bench-user-token-0123456789"
N_IMAGES = 100
BUCKET = "mk-bench-list"
PATH = "/api/v1/user/images?limit=100"


def _jpeg(i: int) -> bytes:
    """A small distinct JPEG (thumbnail sizes above its size are stored at its own size)."""
    im = Image.new("RGB", (480, 320), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _s3_client(endpoint: str, access: str, secret: str) -> object:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@contextlib.contextmanager
def _reference_server(
    s3_url: str, access: str, secret: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The FastAPI reference server on S3 (moto), SQLite in a temp dir; yields URL and process."""
    from tests.servers import free_port, stop_process

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mediakit-bench-") as tmp:
        env = {
            **os.environ,
            "MEDIAKIT_HOST": "127.0.0.1",
            "MEDIAKIT_PORT": str(port),
            "MEDIAKIT_DEMO_ADMIN_TOKEN": ADMIN,
            "MEDIAKIT_DEMO_USER_TOKEN": USER,
            "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "MEDIAKIT_STORAGE": "s3",
            "MEDIA_S3_ENDPOINT": s3_url,
            "MEDIA_ASSETS_BUCKET": BUCKET,
            "MEDIA_S3_ACCESS_KEY_ID": access,
            "MEDIA_S3_SECRET_ACCESS_KEY": secret,
            "MEDIA_MAX_FILES_PER_REQUEST": str(N_IMAGES),
            "MEDIAKIT_JOB_RUNNER": "thread",
            "PYTHONUNBUFFERED": "1",
        }
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "examples.fastapi_server"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
            yield base, proc
        finally:
            stop_process(proc)


def _seed(base: str) -> int:
    """Upload N_IMAGES visible images in one request and wait until all are processed."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=120) as c:
        files = [("files", (f"img-{i:03d}.jpg", _jpeg(i), "image/jpeg")) for i in range(N_IMAGES)]
        r = c.post("/api/v1/admin/images/upload", files=files, data={"visible": "true"})
        r.raise_for_status()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            items = c.get("/api/v1/admin/images", params={"limit": 100}).json()["items"]
            if all(i["status"] in ("ready", "failed") for i in items):
                break
            time.sleep(0.25)
        page = c.get(PATH, headers={"Authorization": f"Bearer {USER}"}).json()["items"]
    return sum(1 + len(i["thumbnails"]) for i in page)


async def _load(base: str, connections: int, seconds: float) -> tuple[list[float], int]:
    """Keep ``connections`` requests in flight for ``seconds``; latencies (s) and bytes/response."""
    latencies: list[float] = []
    size = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {USER}"}, limits=limits, timeout=30
    ) as client:
        for _ in range(3 * connections):  # warm-up: connections, presign cache
            (await client.get(PATH)).raise_for_status()
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal size
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await client.get(PATH)
                body = r.content
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"GET {PATH}: {r.status_code} {r.text[:200]}")
                size = len(body)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, size


def _anchor(s3_url: str, access: str, secret: str, n_urls: int, rounds: int) -> float:
    """Median CPU time (ms) of ``n_urls`` botocore presigned GET URLs like the page's.

    CPU time of this thread, not wall time: presigning is pure computation, and other work
    on a shared machine should not count against it.
    """
    client = _s3_client(s3_url, access, secret)
    keys = [
        f"images/{i:026d}/{v}"
        for i in range(N_IMAGES)
        for v in ("original", "w320.webp", "w640.webp", "w1280.webp")
    ][:n_urls]

    def page() -> None:
        for key in keys:
            client.generate_presigned_url(  # type: ignore[attr-defined]
                "get_object",
                Params={
                    "Bucket": BUCKET,
                    "Key": key,
                    "ResponseContentType": "image/webp",
                    "ResponseContentDisposition": 'inline; filename="img.jpg"',
                },
                ExpiresIn=900,
            )

    page()  # warm-up
    times = []
    for _ in range(rounds):
        t0 = time.thread_time()
        page()
        times.append((time.thread_time() - t0) * 1000)
    return statistics.median(times)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux ``/proc``), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def run(quick: bool = False) -> str:
    """Run the benchmark (servers started and stopped here) and return a Markdown section."""
    from tests.servers import ACCESS_KEY, SECRET_KEY, running, start_moto

    seconds = 3.0 if quick else 5.0  # hundreds of requests per level; the full run fits in ~12 min
    with running(start_moto) as s3:
        _s3_client(s3.url, ACCESS_KEY, SECRET_KEY).create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        with _reference_server(s3.url, ACCESS_KEY, SECRET_KEY) as (base, proc):
            n_urls = _seed(base)
            rows = []
            for connections in (1, 8):
                cpu0 = _cpu_seconds(proc.pid)
                lat, size = asyncio.run(_load(base, connections, seconds))
                cpu_ms = (_cpu_seconds(proc.pid) - cpu0) * 1000 / (len(lat) + 3 * connections)
                rows.append(
                    (connections, _pct(lat, 0.5), _pct(lat, 0.99), len(lat) / seconds, cpu_ms, size)
                )
        anchor = _anchor(s3.url, ACCESS_KEY, SECRET_KEY, n_urls, 5 if quick else 15)

    p50_single = rows[0][1]
    keep(
        "list_images",
        {
            "connections": [
                {"connections": c, "p50_ms": p50, "p99_ms": p99, "rps": rps, "cpu_ms": cpu}
                for c, p50, p99, rps, cpu, _ in rows
            ],
            "anchor_cpu_ms": anchor,
            "urls": n_urls,
        },
    )
    lines = [
        "## Listing images",
        "",
        f"`GET {PATH}` on the FastAPI reference server (uvicorn, one process; SQLite; S3 on a "
        f"moto server, so every URL is SigV4-presigned): {N_IMAGES} images, {n_urls} presigned "
        f"URLs per response ({rows[0][5] / 1024:.0f} KiB of JSON). Loopback load generator: an "
        "httpx async client in the benchmark's process keeping N requests in flight for "
        f"{seconds:.0f} s; it shares the machine's CPUs with the server. Server CPU is the "
        "server process's CPU time (all threads) per request, read from /proc.",
        "",
        "| Connections | p50 (ms) | p99 (ms) | requests/s | server CPU per request (ms) |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {c} | {p50:.2f} | {p99:.2f} | {rps:.0f} | {cpu:.2f} |"
            for c, p50, p99, rps, cpu, _ in rows
        ),
        "",
        "| Same run | ms | ratio |",
        "|---|---:|---:|",
        f"| anchor: botocore `generate_presigned_url` x{n_urls}, CPU time (URLs alone: no HTTP, "
        f"no database, no JSON) | {anchor:.1f} | 1x |",
        f"| mediakit: whole request, p50 latency at 1 connection | {p50_single:.2f} | "
        f"{anchor / p50_single:.1f}x faster |",
        f"| mediakit: whole request, server CPU at 1 connection | {rows[0][4]:.2f} | "
        f"{anchor / rows[0][4]:.1f}x less |",
        "",
        "Goal: p50 under 10 ms for the whole request (1 connection). With 8 connections the "
        "latency includes waiting behind the other requests on one server process.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
