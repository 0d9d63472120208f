"""uvicorn body benchmark: what receiving an upload costs the server, per protocol.

A bare ASGI app on uvicorn (uvloop, one process each) reads 256 MiB request bodies sent by
``socket.sendfile()`` from another process, and the server's CPU time per GiB is read from
/proc. Two apps: one only reads the body (``receive`` until the end), one parses it as
``multipart/form-data`` with mediakit's streaming reader (what an upload route does before
any storage). Each app runs on:

* **anchor**: uvicorn's own httptools protocol (``--http httptools``, its default);
* **mediakit**: :class:`mediakit.uvicorn.HttpToolsProtocol`.

The servers run side by side and the uploads alternate between them (5 rounds); each figure
is the median over the rounds.

Run: ``python -m benchmarks.uvicorn_body`` (``--quick``: 64 MiB, 3 rounds).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.results import keep

MiB = 1024 * 1024
BOUNDARY = "mediakit-bench-boundary-0123456789"
PROTOCOLS = {"uvicorn's httptools protocol (anchor)": "httptools", "mediakit.uvicorn": "mediakit"}
APPS = {"read the body": "read", "+ multipart parse": "multipart"}

_CLIENT = r"""
import socket, sys, os
port, path, multipart = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "multipart"
B = sys.argv[4]
head = (f"--{B}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.wav\"\r\n"
        "Content-Type: audio/wav\r\n\r\n").encode() if multipart else b""
tail = f"\r\n--{B}--\r\n".encode() if multipart else b""
size = os.path.getsize(path) + len(head) + len(tail)
ctype = f"multipart/form-data; boundary={B}" if multipart else "application/octet-stream"
s = socket.create_connection(("127.0.0.1", port))
s.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {size}\r\n\r\n".encode() + head)
with open(path, "rb") as f:
    s.sendfile(f)
s.sendall(tail)
assert s.recv(100).startswith(b"HTTP/1.1 200"), "the server did not answer 200"
s.close()
"""


async def _read_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await _ok(send)


async def _multipart_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    from mediakit.uploads.limits import UploadLimits
    from mediakit.uploads.multipart import AsyncFilePart, AsyncMultipartReader

    async def body() -> Any:
        while True:
            message = await receive()
            yield message.get("body", b"")
            if not message.get("more_body"):
                return

    headers = dict(scope["headers"])
    reader = AsyncMultipartReader(
        body(),
        content_type=headers[b"content-type"].decode(),
        content_length=headers.get(b"content-length", b"").decode() or None,
        limits=UploadLimits(),  # 4 GiB per file, 8 GiB per request
    )
    async for item in reader:
        if isinstance(item, AsyncFilePart):
            async for _ in item.chunks():
                pass
    await _ok(send)


async def _ok(send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def _serve(protocol: str, app: str, port: int) -> None:
    import uvicorn

    from mediakit.uvicorn import http_protocol

    asgi = _read_app if app == "read" else _multipart_app
    http = http_protocol() if protocol == "mediakit" else "httptools"
    uvicorn.run(asgi, host="127.0.0.1", port=port, loop="uvloop", http=http, log_level="warning")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool = False) -> str:
    """Measure every app on both protocols; return the Markdown section."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.servers import free_port, stop_process

    size = (64 if quick else 256) * MiB
    rounds = 3 if quick else 5
    figures: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="mediakit-bench-body-") as tmp:
        path = Path(tmp) / "body.wav"
        with path.open("wb") as f:
            block = bytes(range(256)) * (MiB // 256)
            for _ in range(size // MiB):
                f.write(block)
        for app in APPS.values():
            servers = {}
            try:
                for protocol in PROTOCOLS.values():
                    port = free_port()
                    proc = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "benchmarks.uvicorn_body",
                            "--serve",
                            protocol,
                            app,
                            str(port),
                        ],
                        cwd=Path(__file__).resolve().parent.parent,
                        start_new_session=True,  # stop_process stops its process group
                    )
                    servers[protocol] = (proc, port)
                time.sleep(0.5)
                for protocol, (proc, port) in servers.items():  # warm-up, and wait for the start
                    deadline = time.monotonic() + 30
                    while subprocess.run(
                        [sys.executable, "-c", _CLIENT, str(port), str(path), app, BOUNDARY],
                        capture_output=True,
                    ).returncode:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            raise RuntimeError(f"the {protocol} server on {app} did not answer")
                        time.sleep(0.2)
                for _ in range(rounds):
                    for protocol, (proc, port) in servers.items():
                        cpu0 = _cpu_seconds(proc.pid)
                        subprocess.run(
                            [sys.executable, "-c", _CLIENT, str(port), str(path), app, BOUNDARY],
                            check=True,
                        )
                        cpu = _cpu_seconds(proc.pid) - cpu0
                        figures.setdefault(app, {}).setdefault(protocol, []).append(
                            cpu / (size / (1024 * MiB))
                        )
            finally:
                for proc, _ in servers.values():
                    stop_process(proc)
    keep("uvicorn_body", {"size_mib": size // MiB, "rounds": rounds, "cpu_s_per_gib": figures})
    lines = [
        "## Receiving an upload on uvicorn: the server's CPU per GiB",
        "",
        f"A bare ASGI app on uvicorn (uvloop) reading {size // MiB} MiB bodies sent by "
        "`socket.sendfile()`; the server process's CPU per GiB, median of "
        f"{rounds} rounds alternating between the protocols (each its own server). "
        "Run: `python -m benchmarks.uvicorn_body`.",
        "",
        "| App | " + " | ".join(PROTOCOLS) + " | mediakit over the anchor |",
        "|---|" + "---:|" * (len(PROTOCOLS) + 1),
    ]
    for label, app in APPS.items():
        medians = [statistics.median(figures[app][p]) for p in PROTOCOLS.values()]
        cells = " | ".join(f"{m:.2f} s" for m in medians)
        lines.append(f"| {label} | {cells} | {medians[1] / medians[0]:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(run(quick="--quick" in sys.argv))
