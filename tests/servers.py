"""Real servers the test suite starts on 127.0.0.1: moto (S3), nanio (SigV4-checking S3),
Ceph RGW (a production S3 implementation, on a throwaway one-node Ceph cluster),
PostgreSQL (a throwaway cluster), redis-server.

Each ``start_*`` returns a handle with the connection details and a ``stop()``.
Under ``CI=true`` a missing server binary is a failure; elsewhere tests skip with a
reason saying how to install it (see :func:`need`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
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


def stop_process(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Terminate a server started in its own process group (``sig``, then SIGKILL after 10 s)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    # PR_SET_PDEATHSIG: the kernel SIGKILLs the child when the thread that started it ends,
    # so a test run killed hard (SIGKILL, OOM) leaves no server behind.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _spawn(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    die_with_parent: bool = False,
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
        # only from the main thread: the signal follows the *thread* that forked
        preexec_fn=(
            _die_with_parent
            if die_with_parent and threading.current_thread() is threading.main_thread()
            else None
        ),
    )
    log.close()
    proc.mediakit_log = log.name  # type: ignore[attr-defined]
    return proc


def start_moto(*, tls: bool = False) -> ServerHandle:
    """moto in server mode (a separate process), S3 over HTTP, or over HTTPS with ``tls``
    (a self-signed certificate for 127.0.0.1 in ``extra["ca_file"]``)."""
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    tmp = Path(tempfile.mkdtemp(prefix="mediakit-moto-")) if tls else None
    extra: dict[str, str] = {}
    if tmp is not None:
        cert, key = _self_signed_cert(tmp)
        cmd += ["-c", str(cert), "-k", str(key)]
        extra["ca_file"] = str(cert)
    proc = _spawn(cmd)

    def stop() -> None:
        stop_process(proc)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    try:
        wait_for_port(port, proc)
    except BaseException:
        stop()
        raise
    scheme = "https" if tls else "http"
    return ServerHandle(url=f"{scheme}://127.0.0.1:{port}", port=port, stop=stop, extra=extra)


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


CEPH_HINT = (
    "Ceph RGW is not installed: apt-get install --no-install-recommends "
    "ceph-mon ceph-osd radosgw ceph-common"
)
_CEPH_EXES = ("monmaptool", "osdmaptool", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_outside_ephemeral() -> int:
    """A free port on 127.0.0.1 below the kernel's ephemeral range (and Ceph's OSD range).

    A daemon that binds its port late (after other processes opened client sockets) must
    not pick a number the kernel may meanwhile hand out as a client's local port: the
    Ceph monitor failed that way when it listened in the ephemeral range.
    """
    low, _high = _ephemeral_range()
    upper = min(low - 1, 30999)
    for _ in range(200):
        port = random.randint(10_000, upper)
        if 6800 <= port <= 7300:  # ceph-osd's own ms_bind_port range
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files), for RGW's HTTPS endpoint."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "rgw.crt", directory / "rgw.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


_CEPH_CONF = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
# a throwaway cluster: no authentication; RGW then needs crc mode or it fails with -13
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind msgr1 = false
# one OSD: pools of size 1 with few placement groups, no health warnings about it
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail crit = 0
# Paxos proposes every 50 ms instead of every second: start-up ~3 s instead of ~14 s
paxos propose interval = 0.05
# clients re-check stalled requests (e.g. RGW creating its pools) every 0.2 s, not 5 s
objecter tick interval = 0.2
run dir = {tmp}/run
admin socket = {tmp}/run/$name.asok
log file = {tmp}/log/$name.log
log to stderr = false
err to stderr = false

[mon]
mon data = {tmp}/mon

[osd]
osd objectstore = memstore
osd data = {tmp}/osd
memstore device bytes = 4294967296

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{port} ssl_endpoint=127.0.0.1:{tls_port} \
ssl_certificate={cert} ssl_private_key={key}
rgw thread pool size = 32
# deleted objects' data is freed within seconds (memstore holds it in RAM)
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw enable lc threads = false
rgw enable quota threads = false
rgw dynamic resharding = false
"""


def start_ceph_rgw() -> ServerHandle:
    """Ceph's RADOS Gateway on a throwaway one-node cluster in a temp directory.

    One ceph-mon (``monmaptool`` + ``ceph-mon --mkfs``), one ceph-osd on ``memstore`` (RAM),
    no mgr, no authentication, and radosgw with HTTP on ``url`` and HTTPS (a self-signed
    certificate for 127.0.0.1, ``extra["ca_file"]``) on ``extra["https_url"]``. The S3 user
    is created with ``radosgw-admin user create`` with the suite's keys; its keys are in
    ``extra["access_key"]``/``extra["secret_key"]``. ``stop()`` kills every daemon and
    removes the directory.
    """
    found = {name: shutil.which(name) for name in _CEPH_EXES}
    need(all(found.values()), CEPH_HINT)
    exes = {name: str(path) for name, path in found.items()}
    tmp = Path(tempfile.mkdtemp(prefix="mediakit-ceph-"))
    procs: list[subprocess.Popen[bytes]] = []

    def stop() -> None:
        # memstore keeps nothing worth a clean shutdown: SIGKILL, then reap
        for proc in reversed(procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            with contextlib.suppress(OSError):
                os.unlink(proc.mediakit_log)  # type: ignore[attr-defined]
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        return _start_ceph(tmp, exes, procs, stop)
    except BaseException:
        stop()
        raise


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _ceph_logs(tmp: Path) -> str:
    tails = []
    for log in sorted((tmp / "log").glob("*.log")):
        tails.append(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(tails)


def _start_ceph(
    tmp: Path,
    exes: dict[str, str],
    procs: list[subprocess.Popen[bytes]],
    stop: Callable[[], None],
) -> ServerHandle:
    for sub in ("mon", "osd", "run", "log"):
        (tmp / sub).mkdir()
    fsid, osd_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(port_outside_ephemeral())
    mon_port, port, tls_port = ports
    cert, key = _self_signed_cert(tmp)
    conf = tmp / "ceph.conf"
    conf.write_text(
        _CEPH_CONF.format(
            fsid=fsid, mon_port=mon_port, tmp=tmp, port=port, tls_port=tls_port, cert=cert, key=key
        )
    )
    c = ["-c", str(conf)]

    def run(*cmd: str, timeout: float = 60) -> str:
        try:
            r = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{cmd[0]} timed out:\n{_ceph_logs(tmp)}") from exc
        if r.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}\n{_ceph_logs(tmp)}"
            )
        return r.stdout

    def daemon(*cmd: str) -> subprocess.Popen[bytes]:
        proc = _spawn([*cmd, *c, "-f"], die_with_parent=True)
        procs.append(proc)
        return proc

    run(
        exes["monmaptool"],
        "--create",
        "--fsid",
        fsid,
        "--addv",
        "a",
        f"v2:127.0.0.1:{mon_port}",
        str(tmp / "monmap"),
    )
    # osd.0 is in the monitor's first osdmap: no `ceph osd new` round trip (the OSD
    # registers its uuid when it boots)
    run(exes["osdmaptool"], *c, "--createsimple", "1", str(tmp / "osdmap"))
    run(
        exes["ceph-mon"],
        *c,
        "--mkfs",
        "-i",
        "a",
        "--monmap",
        str(tmp / "monmap"),
        "--osdmap",
        str(tmp / "osdmap"),
    )
    daemon(exes["ceph-mon"], "-i", "a")
    run(exes["ceph-osd"], *c, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)  # asks the monitor
    daemon(exes["ceph-osd"], "-i", "0")
    daemon(exes["radosgw"], "-n", "client.rgw")
    deadline = time.monotonic() + 30
    while not _listening(port):
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            what = f"{dead[0].args!r} exited" if dead else "radosgw did not listen within 30 s"
            raise RuntimeError(f"Ceph RGW did not start ({what}):\n{_ceph_logs(tmp)}")
        time.sleep(0.05)
    user = json.loads(
        run(
            exes["radosgw-admin"],
            *c,
            "user",
            "create",
            "--uid",
            "mediakit",
            "--display-name",
            "mediakit tests",
            "--access-key",
            ACCESS_KEY,
            "--secret",
            SECRET_KEY,
        )
    )
    keys = user["keys"][0]
    handle = ServerHandle(
        url=f"http://127.0.0.1:{port}",
        port=port,
        stop=stop,
        extra={
            "access_key": keys["access_key"],
            "secret_key": keys["secret_key"],
            "https_url": f"https://127.0.0.1:{tls_port}",
            "ca_file": str(cert),
            "dir": str(tmp),
        },
    )
    _wait_s3_ready(handle)
    return handle


def _wait_s3_ready(handle: ServerHandle, timeout: float = 30.0) -> None:
    """Block until the gateway answers a signed request with the new user's keys."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=handle.url,
        aws_access_key_id=handle.extra["access_key"],
        aws_secret_access_key=handle.extra["secret_key"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
        # SIGQUIT, "immediate shutdown": a throwaway cluster needs no checkpoint, and the
        # default "smart shutdown" (SIGTERM) waits for every client to disconnect
        stop_process(proc, signal.SIGQUIT)
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
