"""Real servers the test suite starts on 127.0.0.1: moto (S3), nanio (SigV4-checking S3),
PostgreSQL (a throwaway cluster), redis-server.

Each ``start_*`` returns a handle with the connection details and a ``stop()``.
Under ``CI=true`` a missing server binary is a failure; elsewhere tests skip with a
reason saying how to install it (see :func:`need`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ACCESS_KEY = "mediakit-test-access"
SECRET_KEY = "mediakit-test-secret-key-0123456789"


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI=true) when ``condition`` is false."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0
) -> None:
    """Block until something listens on ``port`` (or the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            log = getattr(proc, "mediakit_log", None)
            out = Path(log).read_text(errors="replace") if log else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server started in its own process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@attrs.define
class ServerHandle:
    """A started server: where it listens and how to stop it."""

    url: str
    port: int
    stop: Callable[[], None]
    extra: dict[str, str] = attrs.field(factory=dict)


def _spawn(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    # Output goes to a log file, never to a pipe nobody reads: a chatty server (moto logs
    # every request) would fill the pipe buffer and block forever.
    log = tempfile.NamedTemporaryFile(prefix="mediakit-server-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    log.close()
    proc.mediakit_log = log.name  # type: ignore[attr-defined]
    return proc


def start_moto() -> ServerHandle:
    """moto in server mode (a separate process), S3 over HTTP."""
    port = free_port()
    proc = _spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
    wait_for_port(port, proc)
    return ServerHandle(url=f"http://127.0.0.1:{port}", port=port, stop=lambda: stop_process(proc))


def start_nanio() -> ServerHandle:
    """nanio: an S3 server that verifies SigV4 signatures and presigned-URL expiry."""
    exe = shutil.which("nanio") or str(Path(sys.executable).with_name("nanio"))
    need(Path(exe).exists(), "nanio is not installed: pip install nanio")
    port = free_port()
    data = tempfile.mkdtemp(prefix="mediakit-nanio-")
    proc = _spawn(
        [
            exe,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            data,
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={"NANIO_ACCESS_KEY": ACCESS_KEY, "NANIO_SECRET_KEY": SECRET_KEY},
    )
    wait_for_port(port, proc)

    def stop() -> None:
        stop_process(proc)
        shutil.rmtree(data, ignore_errors=True)

    return ServerHandle(url=f"http://127.0.0.1:{port}", port=port, stop=stop)


def _pg_bindir() -> Path | None:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def start_postgres() -> ServerHandle:
    """A throwaway PostgreSQL cluster in a temp directory (Debian's postgresql package)."""
    bindir = _pg_bindir()
    need(bindir is not None, "PostgreSQL is not installed: apt-get install postgresql")
    assert bindir is not None
    tmp = Path(tempfile.mkdtemp(prefix="mediakit-pg-"))
    data, sock = tmp / "data", tmp / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(tmp, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = _spawn(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(sock),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
    )
    wait_for_port(port, proc)
    # wait until it accepts queries, not just connections
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if r.returncode == 0:
            break
        time.sleep(0.1)

    def stop() -> None:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)

    return ServerHandle(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        port=port,
        stop=stop,
        extra={"bindir": str(bindir)},
    )


def create_pg_database(handle: ServerHandle, name: str) -> str:
    """Create database ``name`` in the cluster and return its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(
        f"host=127.0.0.1 port={handle.port} user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{handle.port}/{name}"


def start_redis() -> ServerHandle:
    """redis-server on a free port, no persistence."""
    exe = shutil.which("redis-server")
    need(exe is not None, "redis-server is not installed: apt-get install redis-server")
    assert exe is not None
    port = free_port()
    proc = _spawn(
        [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    )
    wait_for_port(port, proc)
    return ServerHandle(
        url=f"redis://127.0.0.1:{port}/0", port=port, stop=lambda: stop_process(proc)
    )


@contextlib.contextmanager
def running(start: Callable[[], ServerHandle]) -> Iterator[ServerHandle]:
    """Start a server for the duration of a ``with`` block."""
    handle = start()
    try:
        yield handle
    finally:
        handle.stop()
