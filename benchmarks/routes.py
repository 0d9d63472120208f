"""Route benchmark: what a user of each reference server meets, against its anchor.

Three servers, each its own process on S3 over HTTP (nanio, which checks signatures) with
SQLite in a temp dir, started as users start them:

* ``fastapi``: ``python -m examples.fastapi_server`` (uvicorn with
  ``mediakit.uvicorn.HttpToolsProtocol``, async service);
* ``django-asgi``: ``python -m examples.django_server`` (the same uvicorn, async views);
* ``django-wsgi``: the same with ``MEDIAKIT_DJANGO_SERVER=wsgi`` (gunicorn, gthread, sync views).

Measured on each, with the server process's CPU time (all threads, from /proc) per request
next to the latency:

* **seek**: a 64 KiB mid-file ``Range`` GET through the Range proxy
  (``/api/v1/user/media/{id}/stream``), as ``<audio>`` sends when the user seeks; anchor:
  the same range GET straight from S3 through a presigned URL, same client, interleaved;
  and the framework's floor, ``GET /healthz`` of the same server (a view doing nothing).
  The three servers run at once and take turns, round by round (20 rounds of 20 seeks
  each), so a slowdown of the host falls on all of them alike;
* **listing**: ``GET /api/v1/user/images?limit=N`` for N = 10, 50, 100 (4 presigned URLs per
  image); anchor: botocore's ``generate_presigned_url`` for the same number of URLs (CPU time,
  in this process: what a naive endpoint pays for the URLs alone);
* **upload**: one WAV file on disk through ``POST .../music-sets/{id}/tracks`` (pre-encoding
  off, so the figure is the upload path), and the same bytes as 8 files in 8 concurrent
  requests, each sent as a browser sends it (multipart head, ``socket.sendfile()`` of the
  file, tail: the client costs next to nothing), then again with httpx building the body
  (the earlier runs' figure); anchor: boto3 ``upload_fileobj`` of the same files opened
  from disk to the same S3 server, in a child process. ``--server-env NAME=VALUE`` passes
  settings (e.g. ``MEDIA_UPLOAD_PARTS_IN_FLIGHT=2``) to the upload servers.

* **growth** (``--only growth``, on a fresh server of each kind): a whole 64 MiB and 1 GiB
  track through the proxy route vs the same GET straight from S3 (throughput, server CPU
  per GiB, server RSS); the section "How cost grows" of docs/benchmarks.md.

Run: ``python -m benchmarks.routes`` (``--quick``: fewer samples, smaller uploads). Stops by
itself; every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import httpx
from PIL import Image

from benchmarks.results import keep

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "bench-admin-token-0123456789"
USER = "bench-user-token-0123456789"
MiB = 1024 * 1024
SEEK = 64 * 1024
UPLOAD_ROUNDS = 6  # interleaved anchor/route rounds of the one-file upload (1 when quick)
KINDS: dict[str, dict[str, str]] = {
    "fastapi": {"module": "examples.fastapi_server"},
    "django-asgi": {"module": "examples.django_server", "MEDIAKIT_DJANGO_SERVER": "asgi"},
    "django-wsgi": {"module": "examples.django_server", "MEDIAKIT_DJANGO_SERVER": "wsgi"},
}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) of a process and its child processes.

    Read from each process's CPU-time clock (``clock_gettime`` on the clock id
    ``clock_getcpuclockid`` returns: ``(~pid << 3) | 2`` on Linux), to the nanosecond;
    /proc's tick counts (10 ms) would round a round of 40 seeks to a quarter of a
    millisecond per seek. /proc is the fallback where that clock cannot be read."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            total += time.clock_gettime_ns(((~p) << 3) | 2) / 1e9
            continue
        except OSError:
            pass
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                for k in kids:
                    found += [int(k), *_children(int(k))]
    return found


def _rss_mib(pid: int) -> float:
    total = 0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG (noise over gradients) of a few MiB: the seek target."""
    random.seed(seed)
    im = Image.effect_noise((width, height), 60).convert("RGB")
    im = Image.blend(im, Image.linear_gradient("L").resize((width, height)).convert("RGB"), 0.3)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=97, subsampling=0)
    return buf.getvalue()


def _small_jpeg(i: int) -> bytes:
    im = Image.new("RGB", (480, 320), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _wav(size: int) -> bytes:
    """A valid PCM WAV file of ``size`` bytes (16-bit stereo 44.1 kHz, a quiet pattern)."""
    data = size - 44
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data)
    block = bytes(range(256)) * 256
    body = (block * (data // len(block) + 1))[:data]
    return header + body


@contextlib.contextmanager
def _server(
    kind: str,
    s3_url: str,
    access: str,
    secret: str,
    bucket: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[_Server]:
    from tests.servers import free_port, stop_process

    opts = {**KINDS[kind], **(extra_env or {})}
    module = opts.pop("module")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"mediakit-bench-{kind}-") as tmp:
        env = {
            **os.environ,
            "MEDIAKIT_HOST": "127.0.0.1",
            "MEDIAKIT_PORT": str(port),
            "MEDIAKIT_DEMO_ADMIN_TOKEN": ADMIN,
            "MEDIAKIT_DEMO_USER_TOKEN": USER,
            "MEDIAKIT_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "MEDIAKIT_STORAGE": "s3",
            "MEDIA_S3_ENDPOINT": s3_url,
            "MEDIA_ASSETS_BUCKET": bucket,
            "MEDIA_S3_ACCESS_KEY_ID": access,
            "MEDIA_S3_SECRET_ACCESS_KEY": secret,
            "MEDIA_MAX_FILES_PER_REQUEST": "100",
            "MEDIA_MAX_CONCURRENT_UPLOADS": "16",
            "MEDIA_AUDIO_PRE_ENCODE": "false",
            "MEDIAKIT_JOB_RUNNER": "thread",
            "PYTHONUNBUFFERED": "1",
            **opts,
        }
        log_path = Path(tmp) / "server.log"
        base = f"http://127.0.0.1:{port}"

        def start() -> subprocess.Popen[bytes]:
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", module],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=ROOT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{kind} exited: {log_path.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    # unauthenticated: a 401 answered before any service work
                    r = httpx.get(f"{base}/api/v1/user/images", timeout=2)
                    if r.status_code in (200, 401):
                        return proc
                if time.monotonic() > deadline:
                    stop_process(proc)
                    raise RuntimeError(f"{kind} did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)

        server = _Server(base, start())
        try:
            server.restart = lambda: (stop_process(server.proc), setattr(server, "proc", start()))
            yield server
        finally:
            stop_process(server.proc)


class _Server:
    """A started reference server; ``restart()`` stops it and starts a fresh process on
    the same database and bucket (to measure the first requests after a start)."""

    def __init__(self, base: str, proc: subprocess.Popen[bytes]) -> None:
        self.base = base
        self.proc = proc
        self.restart: Callable[[], object] = lambda: None


def _first_requests_ms(server: _Server, media_id: str, size: int) -> dict[str, float]:
    """Restart the server, then time its first seek and its first listing (ms)."""
    server.restart()
    user = {"Authorization": f"Bearer {USER}"}
    first = size // 2
    with httpx.Client(base_url=server.base, headers=user, timeout=60) as c:
        t0 = time.perf_counter()
        r = c.get(
            f"/api/v1/user/media/{media_id}/stream",
            headers={"Range": f"bytes={first}-{first + SEEK - 1}"},
        )
        seek_ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 206:
            raise RuntimeError(f"first seek: {r.status_code} {r.text[:200]}")
        t0 = time.perf_counter()
        r = c.get("/api/v1/user/images", params={"limit": 100})
        list_ms = (time.perf_counter() - t0) * 1000
        r.raise_for_status()
        t0 = time.perf_counter()
        c.get(
            f"/api/v1/user/media/{media_id}/stream",
            headers={"Range": f"bytes={first}-{first + SEEK - 1}"},
        )
        second_ms = (time.perf_counter() - t0) * 1000
    return {"seek_ms": seek_ms, "listing_ms": list_ms, "second_seek_ms": second_ms}


def _seed(base: str) -> tuple[str, str, int]:
    """100 small visible images and one big one; returns the big one's id, its presigned
    URL and its size once every image is ready."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    big = _photo(2400, 1600, 1)
    with httpx.Client(base_url=base, headers=admin, timeout=300) as c:
        files = [("files", (f"img-{i:03d}.jpg", _small_jpeg(i), "image/jpeg")) for i in range(99)]
        files.append(("files", ("big.jpg", big, "image/jpeg")))
        r = c.post("/api/v1/admin/images/upload", files=files, data={"visible": "true"})
        r.raise_for_status()
        big_id = r.json()["items"][-1]["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            items = c.get("/api/v1/admin/images", params={"limit": 100}).json()["items"]
            if all(i["status"] in ("ready", "failed") for i in items):
                break
            time.sleep(0.25)
        user = {"Authorization": f"Bearer {USER}"}
        r = c.get(f"/api/v1/user/images/{big_id}", headers=user)
        r.raise_for_status()
        return big_id, r.json()["url"], len(big)


def _interleaved(
    pid: int | None,
    fns: Sequence[Callable[[], None] | tuple[int, Callable[[], None]]],
    n: int,
    rounds: int,
) -> list[tuple[float, float, float]]:
    """(median latency ms, server CPU ms per call, p95 latency ms) of each fn, batches
    interleaved. The CPU figure is the median over the rounds of each round's CPU per
    call: this VM's speed drifts from minute to minute (the same code's CPU per seek
    varied 1.5-2.6 ms within ten minutes), and a round slowed by the host would move a
    mean over all rounds. ``fns`` are functions on the server ``pid``, or ``(pid, fn)``
    pairs when several servers take turns (``pid`` is then ``None``)."""
    pairs: list[tuple[int, Callable[[], None]]] = [
        item if isinstance(item, tuple) else (cast(int, pid), item) for item in fns
    ]
    lat: list[list[float]] = [[] for _ in pairs]
    cpu: list[list[float]] = [[] for _ in pairs]
    for _ in range(rounds):
        for i, (server, fn) in enumerate(pairs):
            c0 = _cpu_seconds(server)
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                lat[i].append(time.perf_counter() - t0)
            cpu[i].append((_cpu_seconds(server) - c0) / n)
    return [
        (
            statistics.median(v) * 1000,
            statistics.median(cpu[i]) * 1000,
            statistics.quantiles(v, n=20)[-1] * 1000,
        )
        for i, v in enumerate(lat)
    ]


@attrs.frozen
class _SeekTarget:
    """One running server's seek: where, and which object."""

    base: str
    pid: int
    media_id: str
    direct_url: str
    size: int


def _seeks(targets: dict[str, _SeekTarget], quick: bool) -> dict[str, dict[str, float]]:
    """Seeks through every server's route, its direct S3 GET and its bare view, the
    servers taking turns round by round: a host slowdown of a few seconds then falls on
    every server alike instead of on whichever was being measured."""
    rng = random.Random(7)
    user = {"Authorization": f"Bearer {USER}"}
    with httpx.Client(timeout=30) as client:

        def ranged(url: str, headers: dict[str, str], size: int) -> Callable[[], None]:
            def go() -> None:
                first = rng.randrange(size // 4, size - SEEK)
                r = client.get(
                    url, headers={**headers, "Range": f"bytes={first}-{first + SEEK - 1}"}
                )
                if r.status_code != 206 or len(r.content) != SEEK:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

            return go

        def bare(base: str) -> Callable[[], None]:
            def go() -> None:  # the framework's floor: a view doing nothing, same server
                r = client.get(f"{base}/healthz")
                if r.status_code != 200:
                    raise RuntimeError(f"/healthz: {r.status_code} {r.text[:200]}")

            return go

        fns: list[tuple[int, Callable[[], None]]] = []
        for t in targets.values():
            route = f"{t.base}/api/v1/user/media/{t.media_id}/stream"
            fns += [
                (t.pid, ranged(route, user, t.size)),
                (t.pid, ranged(t.direct_url, {}, t.size)),
                (t.pid, bare(t.base)),
            ]
        for _ in range(20):  # warm-up: connections, info cache, presign cache
            for _, fn in fns:
                fn()
        measured = _interleaved(None, fns, 10 if quick else 20, 3 if quick else 20)
    out = {}
    for i, kind in enumerate(targets):
        (r_ms, r_cpu, r_p95), (d_ms, _, d_p95), (b_ms, b_cpu, _) = measured[3 * i : 3 * i + 3]
        out[kind] = {
            "route_ms": r_ms,
            "direct_ms": d_ms,
            "route_p95_ms": r_p95,
            "direct_p95_ms": d_p95,
            "cpu_ms": r_cpu,
            "bare_ms": b_ms,
            "bare_cpu_ms": b_cpu,
        }
    return out


def _listings(base: str, pid: int, quick: bool) -> list[tuple[int, float, float]]:
    user = {"Authorization": f"Bearer {USER}"}
    rows = []
    with httpx.Client(base_url=base, headers=user, timeout=30) as client:
        for limit in (10, 50, 100):

            def page(limit: int = limit) -> None:
                r = client.get("/api/v1/user/images", params={"limit": limit})
                if r.status_code != 200 or len(r.json()["items"]) != limit:
                    raise RuntimeError(f"listing: {r.status_code} {r.text[:200]}")

            for _ in range(10):
                page()
            ((ms, cpu, _),) = _interleaved(pid, [page], 10 if quick else 30, 3 if quick else 5)
            rows.append((limit, ms, cpu))
    return rows


def _botocore_urls_ms(s3_url: str, access: str, secret: str, bucket: str, n_urls: int) -> float:
    from benchmarks.list_images import _s3_client

    client: Any = _s3_client(s3_url, access, secret)
    keys = [f"images/{i:026d}/w640.webp" for i in range(n_urls)]

    def page() -> None:
        for key in keys:
            client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "ResponseContentType": "image/webp",
                    "ResponseContentDisposition": 'inline; filename="img.jpg"',
                },
                ExpiresIn=900,
            )

    page()
    times = []
    for _ in range(7):
        t0 = time.thread_time()
        page()
        times.append((time.thread_time() - t0) * 1000)
    return statistics.median(times)


def _upload_route(
    base: str,
    pid: int,
    set_id: str,
    files: list[Path],
    s3_pid: int | None = None,
    client: str = "raw",
) -> dict[str, float]:
    """POST each of ``files`` (all at once) to the track route; the server's speed, CPU and
    memory, and the CPU the client (this process, standing in for the browser) and the S3
    server (``s3_pid``) spent meanwhile: the machine's budget.

    ``client="raw"``: a socket per file sends the multipart head, ``socket.sendfile()`` of
    the file on disk and the tail, as cheap as a real uploader (a browser streams the file
    from disk on the user's machine; here it shares the cores). ``client="httpx"``: httpx
    builds each multipart body from the file's bytes in memory (read before the clock
    starts), the figure earlier runs reported."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    url = f"{base}/api/v1/admin/music-sets/{set_id}/tracks"
    bodies = [p.read_bytes() for p in files] if client == "httpx" else []

    async def one(http: httpx.AsyncClient, body: bytes, i: int) -> None:
        r = await http.post(url, files=[("files", (f"t{i}.wav", body, "audio/wav"))])
        if r.status_code != 201:
            raise RuntimeError(f"upload: {r.status_code} {r.text[:300]}")

    async def all_of() -> None:
        async with httpx.AsyncClient(headers=admin, timeout=600) as http:
            await asyncio.gather(*(one(http, b, i) for i, b in enumerate(bodies)))

    def raw(i: int) -> None:
        status, text = _raw_upload(url, admin, files[i], f"t{i}.wav")
        if status != 201:
            raise RuntimeError(f"upload: {status} {text[:300]}")

    def send() -> None:
        if client == "httpx":
            asyncio.run(all_of())
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(files)) as pool:
            list(pool.map(raw, range(len(files))))

    _flush_writeback()
    rss0, cpu0 = _rss_mib(pid), _cpu_seconds(pid)
    own0, s3_0 = _own_cpu_seconds(), _cpu_seconds(s3_pid) if s3_pid else 0.0
    peak = [rss0]
    stop = False

    def sample() -> None:
        while not stop:
            peak[0] = max(peak[0], _rss_mib(pid))
            time.sleep(0.05)

    import threading

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    send()
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds(pid) - cpu0
    own, s3_cpu = _own_cpu_seconds() - own0, (_cpu_seconds(s3_pid) - s3_0) if s3_pid else 0.0
    time.sleep(2)  # what stays grown once the requests are answered
    stop = True
    t.join()
    total = sum(p.stat().st_size for p in files)
    gib = total / (1024 * MiB)
    return {
        "mib_s": total / MiB / seconds,
        "cpu_s_per_gib": cpu / gib,
        "rss_growth_mib": peak[0] - rss0,
        "rss_after_mib": _rss_mib(pid) - rss0,
        "client_cpu_s_per_gib": own / gib,
        "s3_cpu_s_per_gib": s3_cpu / gib,
    }


def _raw_upload(url: str, headers: dict[str, str], path: Path, name: str) -> tuple[int, str]:
    """POST ``path`` as the multipart field ``files`` over a fresh socket: the head, the
    file by ``socket.sendfile()`` (the kernel copies it from the page cache; no Python
    touches the bytes), the tail; returns the status and the response body. What a real
    uploader costs, and what ``curl -F files=@path`` does, without a process per file."""
    import socket
    import uuid
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=600) as sock:
        try:
            sock.sendall(request + head)
            with path.open("rb") as f:
                sock.sendfile(f)
            sock.sendall(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (a refusal): read its answer below
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    head_bytes, _, body = bytes(answer).partition(b"\r\n\r\n")
    status_line = head_bytes.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 else 0
    return status, body.decode(errors="replace")


def _flush_writeback() -> None:
    """Write every dirty page to disk before a measured upload (``sync``): each upload
    leaves about twice its size dirty in the S3 server's files (the parts, then the
    completed object), which the kernel would otherwise write back during a later
    measurement, on CPU time no process is charged with, whichever side it lands on."""
    os.sync()


def _own_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _s3_server_pid() -> int | None:
    """The nanio process this benchmark started (a child), for its CPU time."""
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"nanio" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    return None


def _upload_anchor(
    s3_url: str, bucket: str, files: list[Path], s3_pid: int | None = None
) -> dict[str, float]:
    """boto3 ``upload_fileobj`` of each of ``files`` (opened from disk, the same files the
    route's client sends; one thread per file, default ``TransferConfig``) in a child
    process; with ``s3_pid``, the S3 server's CPU per GiB meanwhile too."""
    _flush_writeback()
    s3_0 = _cpu_seconds(s3_pid) if s3_pid else 0.0
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.routes",
            "--child-boto3",
            s3_url,
            bucket,
            *map(str, files),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, float] = eval(out.stdout.strip().splitlines()[-1])
    if s3_pid:
        size = sum(p.stat().st_size for p in files)
        result["s3_cpu_s_per_gib"] = (_cpu_seconds(s3_pid) - s3_0) / (size / (1024 * MiB))
    return result


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over ``runs`` (the figures of one side of interleaved rounds)."""
    return {k: statistics.median(run[k] for run in runs) for k in runs[0]}


def _median_run(runs: list[dict[str, float]]) -> dict[str, float] | None:
    """The anchor run of median speed (None when there was none)."""
    if not runs:
        return None
    return sorted(runs, key=lambda r: r["mib_s"])[len(runs) // 2]


def _own_peak_rss_mib() -> float:
    """This process's peak RSS since its ``exec`` (see :func:`benchmarks.upload._peak_rss_kib`)."""
    from benchmarks.upload import _peak_rss_kib

    return _peak_rss_kib() / 1024


def _child_boto3(s3_url: str, bucket: str, paths: list[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.upload import _client

    client = _client(s3_url)
    parallel = len(paths)
    t_cpu0 = time.process_time()
    t0 = time.perf_counter()

    def put(i: int) -> None:
        with open(paths[i], "rb") as f:
            client.upload_fileobj(f, bucket, f"anchor/{os.getpid()}-{i}")

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(put, range(parallel)))
    seconds = time.perf_counter() - t0
    total = sum(os.path.getsize(p) for p in paths)
    print(
        repr(
            {
                "mib_s": total / MiB / seconds,
                "cpu_s_per_gib": (time.process_time() - t_cpu0) / (total / (1024 * MiB)),
                "rss_mib": _own_peak_rss_mib(),
            }
        )
    )


def run(
    quick: bool = False,
    only: str | None = None,
    kinds: list[str] | None = None,
    upload_mib: int | None = None,
    server_env: dict[str, str] | None = None,
) -> str:
    """Run every route on every server kind; return the Markdown section.

    ``only``: ``"seek"``, ``"listing"`` or ``"upload"`` to measure one route (faster
    iterations); ``kinds``: the server kinds to start (default: all three);
    ``upload_mib``: the upload size (default 32 MiB quick, else 256 MiB); ``server_env``:
    extra environment for the upload servers (e.g. ``MEDIA_UPLOAD_PARTS_IN_FLIGHT``)."""
    sys.path.insert(0, str(ROOT))
    from tests.servers import ACCESS_KEY, SECRET_KEY, running, start_nanio, start_redis

    from benchmarks.list_images import _s3_client

    upload_size = (upload_mib or (32 if quick else 256)) * MiB
    # the upload's files on disk: one of the whole size, and 8 of 1/8 each (the same
    # bytes in total), sent by the route's client and by the anchor alike
    tmp_dir = Path(tempfile.mkdtemp(prefix="mediakit-bench-upload-"))
    one_file = [tmp_dir / "one.wav"]
    eight_files = [tmp_dir / f"eight-{i}.wav" for i in range(8)]
    warm_file = [tmp_dir / "warm.wav"]
    if only in (None, "upload"):
        _wav_file(one_file[0], upload_size)
        for p in eight_files:
            _wav_file(p, upload_size // 8)
        _wav_file(warm_file[0], 2 * MiB)
    results: dict[str, dict[str, Any]] = {}
    anchors1: list[dict[str, float]] = []
    anchors8: list[dict[str, float]] = []
    redis = None
    with running(start_nanio) as s3, contextlib.ExitStack() as stack:
        stack.callback(tmp_dir.rmdir)  # last: the files go first (the stack unwinds in reverse)
        stack.callback(lambda: [p.unlink(missing_ok=True) for p in tmp_dir.iterdir()])
        s3c: Any = _s3_client(s3.url, ACCESS_KEY, SECRET_KEY)
        for kind in kinds or list(KINDS):
            s3c.create_bucket(Bucket=f"mk-bench-{kind}")
            results[kind] = {}
        if only not in ("upload", "growth"):
            # every kind's server at once: first requests on each fresh one, then the
            # seeks with the servers taking turns, then the listings
            with contextlib.ExitStack() as servers:
                targets: dict[str, _SeekTarget] = {}
                for kind in results:
                    print(f"-- {kind}", flush=True)
                    bucket = f"mk-bench-{kind}"
                    server = servers.enter_context(
                        _server(kind, s3.url, ACCESS_KEY, SECRET_KEY, bucket)
                    )
                    big_id, direct_url, size = _seed(server.base)
                    if only in (None, "first"):
                        results[kind]["first"] = _first_requests_ms(server, big_id, size)
                    targets[kind] = _SeekTarget(
                        server.base, server.proc.pid, big_id, direct_url, size
                    )
                if only in (None, "seek"):
                    print("-- seeks, the servers taking turns", flush=True)
                    for kind, seek in _seeks(targets, quick).items():
                        results[kind]["seek"] = seek
                if only in (None, "listing"):
                    for kind, t in targets.items():
                        results[kind]["listing"] = _listings(t.base, t.pid, quick)
        for kind in results:
            bucket = f"mk-bench-{kind}"
            res = results[kind]
            if only in (None, "upload"):
                print(f"-- {kind}: upload", flush=True)
                if redis is None:
                    redis = stack.enter_context(running(start_redis))
                # Processing goes to a dramatiq queue nobody consumes: with the thread
                # runner the server would download and probe each track as it arrives,
                # and that work (an S3 GET of the same bytes, ffprobe) would be counted
                # as the upload's CPU and memory. Redis is also the upload limiter then.
                queued = {
                    "MEDIAKIT_JOB_RUNNER": "dramatiq",
                    "MEDIAKIT_REDIS_URL": redis.url,
                    **(server_env or {}),
                }
                with _server(kind, s3.url, ACCESS_KEY, SECRET_KEY, bucket, queued) as server:
                    admin = {"Authorization": f"Bearer {ADMIN}"}
                    with httpx.Client(base_url=server.base, headers=admin) as c:
                        r = c.post("/api/v1/admin/music-sets", json={"title": "bench"})
                        set_id = r.raise_for_status().json()["id"]
                    pid = server.proc.pid
                    # warm-up: the first upload imports and connects (not what is measured)
                    _upload_route(server.base, pid, set_id, warm_file)
                    _upload_route(server.base, pid, set_id, warm_file, client="httpx")
                    # each measure next to its anchor (the machine is shared); the route
                    # with the cheap client, then with httpx (the figure of earlier runs)
                    s3_pid = _s3_server_pid()
                    # one file: rounds of the anchor and the route, each figure the
                    # median over the rounds (a host slowdown moves a single pair a lot);
                    # which goes first alternates, so that a drift of the host's speed
                    # within the rounds favours neither
                    pairs = []
                    for i in range(1 if quick else UPLOAD_ROUNDS):
                        if i % 2:
                            r = _upload_route(server.base, pid, set_id, one_file, s3_pid)
                            a = _upload_anchor(s3.url, bucket, one_file, s3_pid)
                        else:
                            a = _upload_anchor(s3.url, bucket, one_file, s3_pid)
                            r = _upload_route(server.base, pid, set_id, one_file, s3_pid)
                        pairs.append((a, r))
                    anchors1.append(_medians([a for a, _ in pairs]))
                    res["upload1"] = _medians([r for _, r in pairs])
                    res["upload1_rounds"] = [{"anchor": a, "route": r} for a, r in pairs]
                    res["upload1_httpx"] = _upload_route(
                        server.base, pid, set_id, one_file, s3_pid, client="httpx"
                    )
                    anchors8.append(_upload_anchor(s3.url, bucket, eight_files))
                    res["upload8"] = _upload_route(server.base, pid, set_id, eight_files)
                    res["upload8_httpx"] = _upload_route(
                        server.base, pid, set_id, eight_files, client="httpx"
                    )
                    res["anchor1"], res["anchor8"] = anchors1[-1], anchors8[-1]
        anchor1 = _median_run(anchors1)
        anchor8 = _median_run(anchors8)
        url_ms = {}
        if only in (None, "listing"):
            url_ms = {
                n: _botocore_urls_ms(s3.url, ACCESS_KEY, SECRET_KEY, "b", 4 * n)
                for n in (10, 50, 100)
            }
        if only in (None, "growth"):
            _growth_all(s3.url, s3c, kinds or list(KINDS), results, quick)
    keep(
        "routes",
        {
            "servers": results,
            "upload_anchor": {"1": anchor1, "8": anchor8},
            "upload_mib": upload_size // MiB,
            "upload_server_env": server_env or {},
            "botocore_urls_ms": url_ms,
            "quick": quick,
        },
    )
    text = _report(results, anchor1, anchor8, url_ms, upload_size) + _report_growth(results)
    if server_env and only in (None, "upload"):
        settings = ", ".join(f"`{k}={v}`" for k, v in sorted(server_env.items()))
        text += f"\n\nThe upload servers ran with {settings}.\n"
    return text


def _report(
    results: dict[str, dict[str, Any]],
    anchor1: dict[str, float] | None,
    anchor8: dict[str, float] | None,
    url_ms: dict[int, float],
    upload_size: int,
) -> str:
    lines = [
        "## Routes, as users meet them",
        "",
        "Each reference server in its own process (FastAPI on uvicorn; Django on uvicorn (ASGI) "
        "and on gunicorn gthread (WSGI); uvicorn with `mediakit.uvicorn.HttpToolsProtocol`), SQLite, S3 on nanio over loopback. Server CPU is the "
        "server process's CPU time per request (all threads, /proc; the median over rounds of "
        "each round's mean, so that a round the host slowed does not move it; for the seeks "
        "the servers run at once and take turns round by round). Run: "
        "`python -m benchmarks.routes`.",
        "",
    ]
    if any("seek" in r for r in results.values()):
        lines += [
            "### Seek: a 64 KiB mid-file Range through the proxy vs straight from S3",
            "",
            "| Server | direct S3 GET p50 / p95 (ms) | route p50 / p95 (ms) "
            "| route over direct, p50 (ms) | server CPU per seek (ms) "
            "| anchor: bare view p50 (ms) | bare view CPU (ms) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, r in results.items():
            s = r["seek"]
            lines.append(
                f"| {kind} | {s['direct_ms']:.2f} / {s['direct_p95_ms']:.2f} "
                f"| {s['route_ms']:.2f} / {s['route_p95_ms']:.2f} | "
                f"+{s['route_ms'] - s['direct_ms']:.2f} | {s['cpu_ms']:.2f} | "
                f"{s['bare_ms']:.2f} | {s['bare_cpu_ms']:.2f} |"
            )
        lines += [
            "",
            "Goal (issue 15): the route under 3 ms over direct, server CPU under 2 ms per seek. "
            "The bare view (`/healthz` of the same server: routing, middleware, a JSON answer, "
            "no database, no S3) is the framework's floor on this machine.",
            "",
        ]
    if any("first" in r for r in results.values()):
        lines += [
            "### First requests after a start",
            "",
            "| Server | first seek (ms) | then first 100-image page (ms) | second seek (ms) |",
            "|---|---:|---:|---:|",
        ]
        for kind, r in results.items():
            f = r["first"]
            lines.append(
                f"| {kind} | {f['seek_ms']:.1f} | {f['listing_ms']:.1f} | "
                f"{f['second_seek_ms']:.1f} |"
            )
        lines += ["", "Goal (issue 15): no request pays start-up costs.", ""]
    if url_ms:
        lines += [
            "### Listing: `GET /api/v1/user/images?limit=N` (4 presigned URLs per image)",
            "",
            "| Server | N | p50 (ms) | server CPU per request (ms) "
            "| botocore alone for the same URLs, CPU (ms) | ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for kind, r in results.items():
            for n, ms, cpu in r["listing"]:
                lines.append(
                    f"| {kind} | {n} | {ms:.2f} | {cpu:.2f} | {url_ms[n]:.1f} "
                    f"| {url_ms[n] / ms:.1f}x faster |"
                )
        lines.append("")
    if anchor1 is not None and anchor8 is not None:
        lines += [
            f"### Upload: {upload_size // MiB} MiB of WAV through the track route vs boto3 "
            "`upload_fileobj`",
            "",
            "| Path | MiB/s | vs boto3 | CPU s per GiB | vs boto3 | memory growth (MiB) "
            "| still grown after 2 s (MiB) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| anchor: boto3 `upload_fileobj`, 1 file | {anchor1['mib_s']:.0f} | 1x | "
            f"{anchor1['cpu_s_per_gib']:.2f} | 1x | peak RSS {anchor1['rss_mib']:.0f} | |",
            f"| anchor: boto3, 8 files in 8 threads | {anchor8['mib_s']:.0f} | 1x | "
            f"{anchor8['cpu_s_per_gib']:.2f} | 1x | peak RSS {anchor8['rss_mib']:.0f} | |",
        ]
        for kind, r in results.items():
            for label, key, anchor in (
                ("1 file", "upload1", r.get("anchor1", anchor1)),
                ("1 file, httpx client", "upload1_httpx", r.get("anchor1", anchor1)),
                ("8 concurrent", "upload8", r.get("anchor8", anchor8)),
                ("8 concurrent, httpx client", "upload8_httpx", r.get("anchor8", anchor8)),
            ):
                if key not in r:
                    continue
                u = r[key]
                lines.append(
                    f"| {kind}, {label} | {u['mib_s']:.0f} | "
                    f"{u['mib_s'] / anchor['mib_s']:.2f}x | {u['cpu_s_per_gib']:.2f} | "
                    f"{u['cpu_s_per_gib'] / anchor['cpu_s_per_gib']:.2f}x | "
                    f"{u['rss_growth_mib']:.0f} | {u['rss_after_mib']:.0f} |"
                )
        lines += [
            "",
            f"One file: {UPLOAD_ROUNDS} rounds of the anchor and the route, which goes first "
            "alternating from round to round (a drift of the host's speed then favours "
            "neither), each figure the median over the rounds, the route's and the anchor's "
            "alike (a host slowdown would move a single pair a lot); the other rows are one run each, compared with the "
            "anchor run just before them (the anchor rows show the median over the servers). "
            "Every measured upload starts after a `sync`, so that the kernel's writeback of an "
            "earlier upload's files does not land in its figures. "
            "Both sides start from the same WAV files on disk "
            "(one file, or 8 files of 1/8 each). The route's client streams each file as a "
            "browser does: a socket sends the multipart head, `socket.sendfile()` of the file "
            "and the tail (like `curl -F files=@path`); the rows marked *httpx client* post the "
            "same bytes with httpx, which builds the multipart body in Python (the figure of "
            "earlier runs). The route's figures are the mediakit server's (parsing the "
            "request included, the client's CPU not counted); boto3's are the S3 client's "
            "`upload_fileobj` of the opened file (default `TransferConfig`: 8 MiB parts, 10 "
            "threads per file; the server uses `MEDIA_UPLOAD_PART_SIZE`). "
            "The upload server queues processing to Redis "
            "(dramatiq, no worker), so its figures are the upload alone. Goal (issue 15): at "
            "least 0.9x boto3's speed, at most 1.1x its CPU per GiB, memory flat.",
            "",
        ]
        lines += _report_upload_budget(results)
    return "\n".join(lines)


def _report_upload_budget(results: dict[str, dict[str, Any]]) -> list[str]:
    """The machine's CPU per GiB uploaded (one file), by process: what bounds the route's
    speed against boto3's when the cores are the limit (a shared or small machine)."""
    rows = [
        (f"{kind}{label}", r["anchor1"], r[key])
        for kind, r in results.items()
        for key, label in (("upload1", ""), ("upload1_httpx", ", httpx client"))
        if "s3_cpu_s_per_gib" in r.get("anchor1", {}) and key in r
    ]
    if not rows:
        return []
    lines = [
        "CPU per GiB uploaded (one file), every process on the machine, core-seconds:",
        "",
        "| Server | anchor: boto3 + S3 server = total | route: client + mediakit server + "
        "S3 server = total | speed ceiling when CPU-bound (anchor total / route total) "
        "| the same, the client elsewhere (anchor total / server + S3 server) |",
        "|---|---|---|---:|---:|",
    ]
    for kind, a, u in rows:
        a_total = a["cpu_s_per_gib"] + a["s3_cpu_s_per_gib"]
        u_total = u["client_cpu_s_per_gib"] + u["cpu_s_per_gib"] + u["s3_cpu_s_per_gib"]
        lines.append(
            f"| {kind} | {a['cpu_s_per_gib']:.2f} + {a['s3_cpu_s_per_gib']:.2f} = {a_total:.2f} "
            f"| {u['client_cpu_s_per_gib']:.2f} + {u['cpu_s_per_gib']:.2f} + "
            f"{u['s3_cpu_s_per_gib']:.2f} = {u_total:.2f} | {a_total / u_total:.2f}x "
            f"| {a_total / (u_total - u['client_cpu_s_per_gib']):.2f}x |"
        )
    lines += [
        "",
        "The route moves every byte twice over loopback (client to server, server to S3) "
        "where boto3 moves it once, and all three processes share the machine's cores with "
        "the S3 server; the client here (standing in for a browser that would run elsewhere: "
        "`sendfile()` from disk, or httpx building the body in Python) is counted. When the "
        "cores are the limit, the route's speed over "
        "boto3's tends to the ratio of the totals; the last column leaves the client out, "
        "as a browser on another machine would.",
        "",
    ]
    return lines


# ------------------------------------------------------------------ how cost grows: big objects
# (``--only growth``) A full GET of a 64 MiB and a 1 GiB track through the proxy route vs the
# same GET straight from S3: throughput, server CPU per GiB, server RSS. Kept apart from the
# seek, listing and upload parts so that each can change on its own.

GROWTH_MIB = (64, 1024)
GROWTH_MIB_QUICK = (16, 128)
_GROWTH_BUFFER = bytearray(MiB)


def _raw_get(url: str, headers: dict[str, str]) -> int:
    """One ``GET`` over a fresh socket, body discarded into a reused buffer (the client
    costs next to nothing, so the server's speed decides); returns the bytes received."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    view = memoryview(_GROWTH_BUFFER)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}Connection: close\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            got = sock.recv_into(view)
            if not got:
                raise RuntimeError(f"{url}: connection closed before the headers")
            head += view[:got]
        block, _, body = head.partition(b"\r\n\r\n")
        lines = block.decode("latin-1").split("\r\n")
        if not lines[0].split()[1].startswith("2"):
            raise RuntimeError(f"{url}: {lines[0]}")
        length = next(
            (int(v.split(":", 1)[1]) for v in lines if v.lower().startswith("content-length:")),
            None,
        )
        if length is None:
            raise RuntimeError(f"{url}: no Content-Length ({lines[0]})")
        received = len(body)
        while received < length:
            got = sock.recv_into(view)
            if not got:
                break
            received += got
    return received


def _wav_file(path: Path, size: int) -> None:
    """Write a valid WAV of ``size`` bytes to ``path`` in 1 MiB pieces (never whole in memory)."""
    head = _wav(44 + 1024)[:44]
    data = size - 44
    header = head[:4] + struct.pack("<I", 36 + data) + head[8:40] + struct.pack("<I", data)
    block = bytes(range(256)) * (MiB // 256)
    with path.open("wb") as f:
        f.write(header)
        left = data
        while left > 0:
            f.write(block[: min(left, MiB)])
            left -= MiB


def _sample_peak(pid: int, peak: list[float], stop: Any) -> None:
    """Raise ``peak[0]`` to the server's RSS (MiB) every 10 ms until ``stop`` is set."""
    while not stop.is_set():
        peak[0] = max(peak[0], _rss_mib(pid))
        time.sleep(0.01)


def _growth_all(
    s3_url: str, s3c: Any, kinds: list[str], results: dict[str, dict[str, Any]], quick: bool
) -> None:
    """The growth part on a fresh server of each kind (its own start: nothing else the
    server did before counts in its RSS); into ``results[kind]["growth"]``."""
    from tests.servers import ACCESS_KEY, SECRET_KEY

    for kind in kinds:
        bucket = f"mk-bench-{kind}"
        print(f"-- {kind}: growth", flush=True)
        with _server(kind, s3_url, ACCESS_KEY, SECRET_KEY, bucket) as server:
            growth = _growth(server.base, server.proc.pid, s3c, bucket, quick)
        results.setdefault(kind, {})["growth"] = growth


def _growth(base: str, pid: int, s3c: Any, bucket: str, quick: bool) -> list[dict[str, Any]]:
    """Per size: full GETs through ``/api/v1/user/media/{id}/stream`` and straight from S3
    (presigned), interleaved, best throughput of each; server CPU per GiB and RSS while
    streaming. The track is uploaded through the track route from a file on disk and
    deleted afterwards. A size that fails is reported as such; the other parts keep their
    figures."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=base, headers=admin, timeout=900) as c:
        set_id = c.post("/api/v1/admin/music-sets", json={"title": "growth"}).json()["id"]
        for mib in GROWTH_MIB_QUICK if quick else GROWTH_MIB:
            try:
                rows.append(_growth_one(c, base, pid, s3c, bucket, set_id, mib, quick))
            except Exception as exc:  # one size failing must not lose the routes' figures
                print(f"growth {mib} MiB failed: {exc}", flush=True)
                rows.append({"mib": mib, "error": str(exc)[:300]})
    return rows


def _growth_upload(c: httpx.Client, set_id: str, mib: int) -> str:
    """Upload a ``mib`` MiB WAV through the track route (a 503 is retried twice after
    its Retry-After); return the track's id."""
    with tempfile.TemporaryDirectory(prefix="mediakit-bench-growth-") as tmp:
        path = Path(tmp) / "big.wav"
        _wav_file(path, mib * MiB)
        for attempt in range(3):
            with path.open("rb") as f:
                r = c.post(
                    f"/api/v1/admin/music-sets/{set_id}/tracks",
                    files=[("files", ("big.wav", f, "audio/wav"))],
                )
            if r.status_code != 503 or attempt == 2:
                break
            time.sleep(float(r.headers.get("Retry-After", "2")))
    if r.status_code != 201:
        raise RuntimeError(f"growth upload: {r.status_code} {r.text[:300]}")
    body = r.json()
    return str((body.get("items") or body.get("tracks") or [body])[0]["id"])


def _growth_one(
    c: httpx.Client, base: str, pid: int, s3c: Any, bucket: str, set_id: str, mib: int, quick: bool
) -> dict[str, Any]:
    import threading

    admin = {"Authorization": f"Bearer {ADMIN}"}
    size = mib * MiB
    track_id = _growth_upload(c, set_id, mib)
    try:
        keys = [
            o["Key"]
            for o in s3c.list_objects_v2(Bucket=bucket).get("Contents", [])
            if track_id in o["Key"] and o["Size"] == size
        ]
        if not keys:
            raise RuntimeError(f"growth: no {size}-byte object for track {track_id}")
        direct = s3c.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": keys[0]}, ExpiresIn=3600
        )
        route = f"{base}/api/v1/user/media/{track_id}/stream"
        for url, headers in ((direct, {}), (route, admin)):  # warm-up: clients, connections
            _raw_get(url, {**headers, "Range": "bytes=0-65535"})
        rounds = 2 if quick else (3 if mib <= 64 else 2)
        best = {"route": 0.0, "direct": 0.0}
        cpu = 0.0
        rss0 = _rss_mib(pid)
        peak = [rss0]
        for _ in range(rounds):
            for name, url, headers in (("direct", direct, {}), ("route", route, admin)):
                stop = threading.Event()
                sampler = threading.Thread(target=_sample_peak, args=(pid, peak, stop), daemon=True)
                c0 = _cpu_seconds(pid)
                if name == "route":
                    sampler.start()
                t0 = time.perf_counter()
                got = _raw_get(url, headers)
                seconds = time.perf_counter() - t0
                if name == "route":
                    cpu += _cpu_seconds(pid) - c0
                    stop.set()
                    sampler.join()
                if got != size:
                    raise RuntimeError(f"growth {name}: {got} of {size} bytes")
                best[name] = max(best[name], size / seconds / MiB)
    finally:
        c.delete(f"/api/v1/admin/music-sets/{set_id}/tracks/{track_id}")
    return {
        "mib": mib,
        "route_mib_s": best["route"],
        "direct_mib_s": best["direct"],
        "cpu_s_per_gib": cpu / rounds / (size / (1024 * MiB)),
        "rss_before_mib": rss0,
        "rss_peak_mib": peak[0],
        "rss_growth_mib": peak[0] - rss0,
        "rounds": rounds,
    }


def _report_growth(results: dict[str, dict[str, Any]]) -> str:
    """The growth part's Markdown table (empty when it did not run)."""
    if not any("growth" in r for r in results.values()):
        return ""
    lines = [
        "",
        "### How cost grows: a whole track through the proxy route vs straight from S3",
        "",
        "| Server | object (MiB) | direct S3 (MiB/s) | route (MiB/s) | route vs direct "
        "| server CPU per GiB (s) | server RSS peak (MiB) | RSS growth (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in results.items():
        for g in r.get("growth", []):
            if "error" in g:
                lines.append(f"| {kind} | {g['mib']} | failed: {g['error'][:120]} | | | | | |")
                continue
            lines.append(
                f"| {kind} | {g['mib']} | {g['direct_mib_s']:.0f} | {g['route_mib_s']:.0f} "
                f"| {g['route_mib_s'] / g['direct_mib_s']:.2f}x | {g['cpu_s_per_gib']:.2f} "
                f"| {g['rss_peak_mib']:.0f} | {g['rss_growth_mib']:.1f} |"
            )
    lines += [
        "",
        "Full GETs with a minimal socket client (best of the rounds, route and direct "
        "interleaved); the route's server CPU and RSS are the server process's (all "
        "threads and workers, /proc), sampled every 10 ms while the route streams.",
        "",
    ]
    return "\n".join(lines)


def _main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.routes")
    parser.add_argument("--quick", action="store_true", help="fewer samples, smaller uploads")
    parser.add_argument(
        "--only", choices=["seek", "first", "listing", "upload", "growth"], help="measure one route"
    )
    parser.add_argument(
        "--servers", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}"
    )
    parser.add_argument(
        "--upload-mib", type=int, help="upload size in MiB (default: 32 with --quick, else 256)"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the upload servers (repeatable)",
    )
    args = parser.parse_args(argv)
    server_env = dict(e.split("=", 1) for e in args.server_env)
    kinds = [k for k in args.servers.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown server kind(s): {', '.join(unknown)}")
    print(
        run(
            quick=args.quick,
            only=args.only,
            kinds=kinds,
            upload_mib=args.upload_mib,
            server_env=server_env,
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child-boto3"]:
        _child_boto3(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        _main(sys.argv[1:])
