"""Proxy benchmark: a large object streamed through mediakit's Range proxy vs straight from S3.

One run, one S3 server, one client (httpx, streaming):

* **direct**: a presigned GET straight from the S3 server (the anchor);
* **async proxy**: uvicorn (httptools, uvloop) serving :func:`mediakit.proxy.open_async` over
  :class:`~mediakit.storage.AsyncS3ObjectStore` (aioboto3);
* **sync proxy**: gunicorn (``gthread`` worker) serving :func:`mediakit.proxy.open_sync` over
  :class:`~mediakit.storage.S3ObjectStore` (boto3).

Measured: throughput of a full GET (best of N), time to first byte of a 64 KiB mid-file range
(median of 20, after warm-up), and the peak RSS growth of the proxy server process (sampled
from ``/proc`` every 5 ms while streaming, minus its RSS just before). The proxy servers are
separate processes so their RSS is theirs alone. The S3 server is nanio (disk-backed, checks
SigV4): on this machine it stores 1 GiB about twice as fast as moto's server and streams it as
fast, and it does not hold the object in its own memory.

TTFB is reported for two request paths: the default, where the proxy HEADs the object first
(two S3 round trips), and with an :class:`~mediakit.proxy.ObjectInfoCache` (or ``info=`` from
the app's database row): one S3 round trip, like the direct GET.

Run: ``python -m benchmarks.proxy`` (1 GiB) or ``python -m benchmarks.proxy --quick`` (64 MiB).
The app factories below (:func:`asgi_factory`, :func:`wsgi_factory`) are what the servers run.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from mediakit.errors import MediaKitError
from mediakit.proxy import ObjectInfoCache, open_async, open_sync
from mediakit.settings import Settings
from mediakit.storage import AsyncS3ObjectStore, S3ObjectStore

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "mediakit-bench"
KEY = "music/bench/track/original"
MiB = 1024 * 1024
CHUNK = int(os.environ.get("MKB_CHUNK", 256 * 1024))
RANGE_LENGTH = 64 * 1024

# ------------------------------------------------------------------ the apps the servers run


def _settings() -> Settings:
    return Settings(
        storage_backend="s3",
        s3_endpoint=os.environ["MKB_S3_ENDPOINT"],
        s3_access_key_id=os.environ["MKB_ACCESS_KEY"],
        s3_secret_access_key=os.environ["MKB_SECRET_KEY"],
        assets_bucket=os.environ.get("MKB_BUCKET", BUCKET),
    )


def _json_error(exc: MediaKitError) -> tuple[int, list[tuple[str, str]], bytes]:
    import json

    body = json.dumps(exc.to_dict()).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return exc.http_status, [*headers, *exc.headers.items()], body


def asgi_factory() -> Any:
    """The async proxy app (Starlette directly): ``GET/HEAD /media/{key}[?cached=1]``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    store = AsyncS3ObjectStore.from_settings(_settings())
    cache = ObjectInfoCache()

    async def media(request: Request) -> Response:
        try:
            response = await open_async(
                store,
                request.path_params["key"],
                request.method,
                request.headers,
                info_cache=cache if request.query_params.get("cached") else None,
                chunk_size=CHUNK,
            )
        except MediaKitError as exc:
            status, headers, body = _json_error(exc)
            return Response(body, status_code=status, headers=dict(headers))
        return StreamingResponse(
            response, status_code=response.status, headers=dict(response.headers)
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.aclose()

    return Starlette(
        routes=[Route("/media/{key:path}", media, methods=["GET", "HEAD"])], lifespan=lifespan
    )


def wsgi_factory() -> Callable[..., Any]:
    """The sync proxy app (plain WSGI): ``GET/HEAD /media/{key}[?cached=1]``."""
    store = S3ObjectStore.from_settings(_settings())
    cache = ObjectInfoCache()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        key = environ["PATH_INFO"].removeprefix("/media/")
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        cached = "cached=1" in environ.get("QUERY_STRING", "")
        try:
            response = open_sync(
                store,
                key,
                environ["REQUEST_METHOD"],
                headers,
                info_cache=cache if cached else None,
                chunk_size=CHUNK,
            )
        except MediaKitError as exc:
            status, error_headers, body = _json_error(exc)
            start_response(f"{status} {HTTPStatus(status).phrase}", error_headers)
            return [body]
        start_response(
            f"{response.status} {HTTPStatus(response.status).phrase}", list(response.headers)
        )
        return response

    return app


# ------------------------------------------------------------------ measuring


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


class _PeakRss:
    """Samples the RSS of ``pids`` every 5 ms in a thread; ``peak`` is the maximum seen."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak = pids, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss(self.pids))
            time.sleep(0.005)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss(self.pids))


def _throughput(client: httpx.Client, url: str, size: int) -> float:
    """Bytes per second of one full streamed GET."""
    received = 0
    start = time.perf_counter()
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            received += len(chunk)
    elapsed = time.perf_counter() - start
    if received != size:
        raise RuntimeError(f"{url}: received {received} of {size} bytes")
    return size / elapsed


def _ttfb(client: httpx.Client, url: str, first: int, samples: int, warmup: int = 0) -> float:
    """Median seconds to the first body byte of a 64 KiB range starting at ``first``."""
    headers = {"Range": f"bytes={first}-{first + RANGE_LENGTH - 1}"}
    times = []
    for index in range(samples + warmup):
        start = time.perf_counter()
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 206:
                raise RuntimeError(f"{url}: expected 206, got {response.status_code}")
            chunks = response.iter_raw()
            next(chunks)
            elapsed = time.perf_counter() - start
            for _ in chunks:
                pass
        if index >= warmup:
            times.append(elapsed)
    return statistics.median(times)


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@contextlib.contextmanager
def _server(kind: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """Start the async (uvicorn) or sync (gunicorn gthread) proxy; yield its URL and pid.

    gunicorn forks its worker after binding: collect the process tree (:func:`_children`)
    only once a request has been served.
    """
    from tests.servers import free_port, stop_process, wait_for_port

    port = free_port()
    if kind == "async":
        cmd = [
            sys.executable, "-m", "uvicorn", "benchmarks.proxy:asgi_factory", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--no-access-log", "--loop", "uvloop", "--http", "httptools",
        ]  # fmt: skip
    else:
        cmd = [
            sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
            "--threads", "8", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            "benchmarks.proxy:wsgi_factory()",
        ]  # fmt: skip
    proc = _spawn(cmd, env)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop_process(proc)


def _upload(store: S3ObjectStore, size: int) -> None:
    block = random.Random(7).randbytes(MiB)
    store.put_stream(KEY, (block for _ in range(size // MiB)), content_type="audio/mpeg")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds consumed so far by ``pids``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def run(quick: bool = False) -> str:
    """Run the benchmark and return a Markdown section with figures and ratios.

    The three paths are measured interleaved (round-robin), so a load change on the
    machine hits them alike; throughput is the best of the rounds, TTFB the median.
    """
    from tests.conftest import s3_client
    from tests.servers import ACCESS_KEY, SECRET_KEY, running, start_nanio

    size = (64 if quick else 1024) * MiB
    rounds = 3 if quick else 5
    load_before = os.getloadavg()[0]
    samples = 10 if quick else 20
    mid = size // 2 + 12_345
    with running(start_nanio) as s3, contextlib.ExitStack() as stack:
        raw: Any = s3_client(s3.url)
        raw.create_bucket(Bucket=BUCKET)
        env = {
            "MKB_S3_ENDPOINT": s3.url,
            "MKB_ACCESS_KEY": ACCESS_KEY,
            "MKB_SECRET_KEY": SECRET_KEY,
            "MKB_BUCKET": BUCKET,
            "MKB_CHUNK": str(CHUNK),
        }
        os.environ.update(env)
        _upload(S3ObjectStore.from_settings(_settings()), size)
        urls = {
            "direct": raw.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=3600
            )
        }
        roots: dict[str, int] = {}
        for kind in ("async", "sync"):
            url, roots[kind] = stack.enter_context(_server(kind, env))
            urls[kind] = f"{url}/media/{KEY}"
        client = stack.enter_context(httpx.Client(timeout=120))
        for url in urls.values():
            _ttfb(client, url, 0, 3)  # warm up apps, S3 clients, connections
        pids = {kind: [pid, *_children(pid)] for kind, pid in roots.items()}
        rss_before = {kind: _rss(p) for kind, p in pids.items()}
        cpu = dict.fromkeys(pids, 0.0)
        peaks = {kind: _PeakRss(p) for kind, p in pids.items()}
        tputs: dict[str, list[float]] = {kind: [] for kind in urls}
        for peak in peaks.values():
            peak.__enter__()
        try:
            for _ in range(rounds):
                for kind, url in urls.items():
                    before = _cpu_seconds(pids[kind]) if kind in pids else 0.0
                    tputs[kind].append(_throughput(client, url, size))
                    if kind in pids:
                        cpu[kind] += _cpu_seconds(pids[kind]) - before
        finally:
            for peak in peaks.values():
                peak.__exit__()
        paths = {**urls, "async_known": urls["async"] + "?cached=1"}
        paths["sync_known"] = urls["sync"] + "?cached=1"
        ttfbs: dict[str, list[float]] = {kind: [] for kind in paths}
        for _ in range(samples):
            for kind, url in paths.items():
                ttfbs[kind].append(_ttfb(client, url, mid, 1))
        rows: dict[str, dict[str, float]] = {}
        for kind in urls:
            rows[kind] = {"tput": max(tputs[kind]), "ttfb": statistics.median(ttfbs[kind])}
            if kind in pids:
                rows[kind]["ttfb_known"] = statistics.median(ttfbs[f"{kind}_known"])
                rows[kind]["rss"] = (peaks[kind].peak - rss_before[kind]) / MiB
                rows[kind]["cpu"] = cpu[kind] / (rounds * size / 2**30)
    load = (load_before, os.getloadavg()[0])
    return _report(rows, size, samples, quick, rounds, load)


def _report(
    rows: dict[str, dict[str, float]],
    size: int,
    samples: int,
    quick: bool,
    rounds: int,
    load: tuple[float, float],
) -> str:
    direct = rows["direct"]
    names = {
        "direct": "direct from S3 (presigned GET, the anchor)",
        "async": "async proxy: uvicorn + AsyncS3ObjectStore",
        "sync": "sync proxy: gunicorn gthread + S3ObjectStore",
    }

    def ms(seconds: float) -> str:
        return f"{seconds * 1e3:.2f} ms"

    def overhead(seconds: float) -> str:
        return f"{(seconds - direct['ttfb']) * 1e3:+.2f} ms"

    lines = [
        "## Range proxy",
        "",
        f"A {size // MiB} MiB object on a local nanio S3 server, fetched with httpx (streaming); "
        f"proxy chunk size {CHUNK // 1024} KiB. Throughput: best of {rounds} full GETs per path, "
        f"interleaved. TTFB: median of {samples} 64 KiB mid-file ranges, interleaved; overhead "
        "is against the direct GET. Command: "
        f"`python -m benchmarks.proxy{' --quick' if quick else ''}`. "
        f"Load average before/after: {load[0]:.1f}/{load[1]:.1f} on {os.cpu_count()} CPUs.",
        "",
        "| Path | Throughput | vs direct | TTFB (HEAD + GET) | overhead | TTFB (info cached) "
        "| overhead | Server RSS growth | Server CPU per GiB |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {names['direct']} | {direct['tput'] / 1e6:.0f} MB/s | 1.00x | {ms(direct['ttfb'])} "
        "| | | | | |",
    ]
    for kind in ("async", "sync"):
        row = rows[kind]
        lines.append(
            f"| {names[kind]} | {row['tput'] / 1e6:.0f} MB/s | {row['tput'] / direct['tput']:.2f}x "
            f"| {ms(row['ttfb'])} | {overhead(row['ttfb'])} | {ms(row['ttfb_known'])} "
            f"| {overhead(row['ttfb_known'])} | {row['rss']:.1f} MiB | {row['cpu']:.2f} s |"
        )
    verdict = []
    for kind in ("async", "sync"):
        row = rows[kind]
        checks = {
            "throughput >= 0.70x": row["tput"] / direct["tput"] >= 0.7,
            "RSS growth < 64 MiB": row["rss"] < 64,
            "TTFB overhead < 5 ms (HEAD + GET)": row["ttfb"] - direct["ttfb"] < 0.005,
            "TTFB overhead < 5 ms (info cached)": row["ttfb_known"] - direct["ttfb"] < 0.005,
        }
        marks = ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in checks.items())
        verdict.append(f"- {kind}: {marks}")
    lines += ["", *verdict]
    lines += [
        "",
        "Goals: throughput at least 0.70x direct; server RSS growth under 64 MiB while "
        'streaming; TTFB overhead under 5 ms median. "HEAD + GET" is the default path '
        '(`open_sync`/`open_async` HEAD the object); "info cached" uses an `ObjectInfoCache` '
        "(or the `ObjectInfo` the application already has), leaving one S3 request like the "
        "direct GET. The S3 server, "
        "the proxy and the client share this machine's CPUs: the proxy's extra hop competes "
        "with both for them, which bounds the throughput ratio on small machines.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
