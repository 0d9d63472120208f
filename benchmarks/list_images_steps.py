"""Where the time of ``GET /api/v1/user/images?limit=100`` goes, step by step, in one process.

The companion of :mod:`benchmarks.list_images` (which measures the whole server over
loopback): here each layer is timed alone, without HTTP or a load generator, so a change
in one layer shows up as a change in one row. Set-up: a SQLite file holding 100 visible
images with 3 thumbnails each, S3 settings (every URL is SigV4-presigned; presigning needs
no server, so none runs), and the FastAPI router driven directly over ASGI.

Rows: ``SqlImageRepository.list`` (query and rows -> models), ``AsyncMediaService.list_images``
(plus the worker-thread hop, URLs and JSON-ready dicts) and the whole ASGI request (plus
routing, auth dependency, query validation and JSON rendering). Each figure is the best of
several rounds of the mean of N calls, as wall time and as process CPU time.

The anchor, measured in the same run: botocore's ``generate_presigned_url`` called 400
times (the URLs of one page, signed naively).

Run: ``python -m benchmarks.list_images_steps`` (``--quick`` for fewer rounds).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.results import keep

N_IMAGES = 100
SIZES = (320, 640, 1280)
PATH = b"/api/v1/user/images"
QUERY = b"limit=100"
TOKEN = "bench-user-token"
ENV = {
    "MEDIAKIT_STORAGE": "s3",
    "MEDIA_S3_ENDPOINT": "http://127.0.0.1:9",  # never contacted: presigning is local
    "MEDIA_ASSETS_BUCKET": "mk-bench-list",
    "MEDIA_S3_ACCESS_KEY_ID": "bench-access-key",
    "MEDIA_S3_SECRET_ACCESS_KEY": "bench-secret-key",
    "MEDIAKIT_JOB_RUNNER": "inline",
}


def _seed(repos: Any) -> None:
    from mediakit.models import Image, ProcessingStatus, Rendition, new_id

    now = datetime.now(UTC)
    images = []
    for i in range(N_IMAGES):
        image_id = new_id()
        images.append(
            Image(
                id=image_id,
                original_key=f"images/{image_id}/original",
                filename=f"img-{i:03d}.jpg",
                content_type="image/jpeg",
                size=40_000 + i,
                created_at=now - timedelta(seconds=i),
                updated_at=now,
                title=f"Image {i}",
                visible=True,
                owner_id="bench-admin",
                width=1600,
                height=1067,
                status=ProcessingStatus.READY,
                thumbnails=tuple(
                    Rendition(
                        f"w{w}",
                        f"images/{image_id}/w{w}.webp",
                        "image/webp",
                        4000 + w,
                        w,
                        w * 2 // 3,
                    )
                    for w in SIZES
                ),
            )
        )
    repos.images.add_many(images)


def _best(fn: Callable[[], object], n: int, rounds: int) -> tuple[float, float]:
    """Best (wall ms, CPU ms) per call over ``rounds`` rounds of ``n`` calls."""
    fn()
    walls, cpus = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        walls.append((time.perf_counter() - t0) / n * 1000)
        cpus.append((time.process_time() - c0) / n * 1000)
    return min(walls), min(cpus)


def _anchor(rounds: int) -> float:
    """Median CPU ms of 400 botocore presigned GET URLs like the page's."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=ENV["MEDIA_S3_ENDPOINT"],
        aws_access_key_id=ENV["MEDIA_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=ENV["MEDIA_S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    keys = [f"images/{i:022d}/w{w}.webp" for i in range(N_IMAGES) for w in (0, *SIZES)]
    times = []
    for _ in range(rounds + 1):
        t0 = time.thread_time()
        for key in keys:
            client.generate_presigned_url(
                "get_object",
                Params={"Bucket": ENV["MEDIA_ASSETS_BUCKET"], "Key": key},
                ExpiresIn=900,
            )
        times.append((time.thread_time() - t0) * 1000)
    return statistics.median(times[1:])


def run(quick: bool = False) -> str:
    """Time each layer of the listing (set-up and clean-up here); a Markdown section."""
    from fastapi import FastAPI

    from mediakit.models import Principal
    from mediakit.repositories.sql import SqlRepositories
    from mediakit.service import build_service
    from mediakit.settings import Settings
    from mediakit_fastapi import bearer_token_principal, create_router, install_error_handlers

    n, rounds = (10, 3) if quick else (30, 9)
    with tempfile.TemporaryDirectory(prefix="mediakit-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        repos = SqlRepositories.from_url(url)
        kit = build_service(Settings.from_env({**ENV, "MEDIAKIT_DATABASE_URL": url}), repos=repos)
        try:
            _seed(repos)
            app = FastAPI()
            install_error_handlers(app)
            principal = bearer_token_principal({TOKEN: Principal("bench-user")})
            app.include_router(create_router(kit, get_principal=principal))
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": PATH.decode(),
                "raw_path": PATH,
                "query_string": QUERY,
                "root_path": "",
                "headers": [
                    (b"host", b"127.0.0.1"),
                    (b"authorization", f"Bearer {TOKEN}".encode()),
                ],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 80),
            }
            size = 0

            async def request() -> None:
                nonlocal size
                sent: list[dict[str, Any]] = []

                async def receive() -> dict[str, Any]:
                    return {"type": "http.request", "body": b"", "more_body": False}

                async def send(message: dict[str, Any]) -> None:
                    sent.append(message)

                await app(dict(scope), receive, send)
                if sent[0]["status"] != 200:
                    raise RuntimeError(f"GET {PATH!r}: {sent}")
                size = len(sent[1]["body"])

            loop = asyncio.new_event_loop()
            try:
                user = Principal("bench-user")
                rows = [
                    (
                        "`SqlImageRepository.list` (SQLite file)",
                        _best(lambda: repos.images.list(visible_only=True, limit=100), n, rounds),
                    ),
                    (
                        "`MediaService.list_images` (sync twin: 400 URLs, dicts)",
                        _best(lambda: kit.service.list_images(user, limit=100), n, rounds),
                    ),
                    (
                        "`AsyncMediaService.list_images` (400 URLs, dicts; SQLite read inline)",
                        _best(
                            lambda: loop.run_until_complete(
                                kit.aservice.list_images(user, limit=100)
                            ),
                            n,
                            rounds,
                        ),
                    ),
                    (
                        "whole ASGI request (+ FastAPI, auth, JSON rendering)",
                        _best(lambda: loop.run_until_complete(request()), n, rounds),
                    ),
                ]
            finally:
                loop.close()
        finally:
            kit.close()
    anchor = _anchor(3 if quick else 9)
    request_cpu = rows[-1][1][1]
    (sync_wall, sync_cpu), (async_wall, async_cpu) = rows[1][1], rows[2][1]
    keep(
        "list_images_steps",
        {
            "steps": [{"step": name, "wall_ms": w, "cpu_ms": c} for name, (w, c) in rows],
            "sync": {"wall_ms": sync_wall, "cpu_ms": sync_cpu},
            "async": {"wall_ms": async_wall, "cpu_ms": async_cpu},
            "anchor_cpu_ms": anchor,
        },
    )
    lines = [
        "## Listing images, layer by layer",
        "",
        f"`GET {PATH.decode()}?{QUERY.decode()}` in one process, no HTTP: {N_IMAGES} images "
        f"with {len(SIZES)} thumbnails each on a SQLite file, {N_IMAGES * (1 + len(SIZES))} "
        f"SigV4-presigned URLs, {size / 1024:.0f} KiB of JSON. Best of {rounds} rounds of the "
        f"mean of {n} calls.",
        "",
        "| Step (each row includes the ones above) | wall (ms) | CPU (ms) |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:.2f} | {cpu:.2f} |" for name, (wall, cpu) in rows),
        "",
        "| Same run | CPU (ms) | ratio |",
        "|---|---:|---:|",
        f"| anchor: botocore `generate_presigned_url` x{N_IMAGES * (1 + len(SIZES))} "
        f"| {anchor:.1f} | 1x |",
        f"| mediakit: whole request | {request_cpu:.2f} | {anchor / request_cpu:.1f}x less |",
        "",
        f"Async service over its sync twin: {async_wall / sync_wall:.2f}x wall, "
        f"{async_cpu / sync_cpu:.2f}x CPU (goal, issue 15: within 1.2x).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
