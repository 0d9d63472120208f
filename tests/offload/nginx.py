"""A real nginx, unprivileged, in a temp dir, running the offload configuration from
``docs/howto/nginx.md`` (read from the page, so the docs cannot drift from what is tested).

Also used by ``benchmarks/proxy.py``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["DOC", "NGINX", "docs_config", "nginx_conf", "running_nginx"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "howto" / "nginx.md"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
DOC_APP = "127.0.0.1:8000"
DOC_S3 = "minio.internal:9000"
_BLOCK = re.compile(
    r"<!-- offload-config:start -->\s*```nginx\n(?P<conf>.*?)```\s*<!-- offload-config:end -->",
    re.S,
)


def docs_config() -> str:
    """The offload configuration exactly as the how-to shows it."""
    found = _BLOCK.search(DOC.read_text())
    if found is None:
        raise AssertionError(f"{DOC} has no offload-config block")
    return found.group("conf")


def nginx_conf(tmp: Path, *, listen: int, app: str, s3_endpoint: str) -> str:
    """A complete nginx.conf: the documented block with the test's app, S3 and port, inside
    a main context whose every path (pid, logs, temp dirs) lies in ``tmp``."""
    s3 = urlsplit(s3_endpoint).netloc
    conf = docs_config()
    for doc_value, ours in (
        (DOC_APP, app),
        (DOC_S3, s3),
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
    ):
        if doc_value not in conf:
            raise AssertionError(f"the documented config no longer contains {doc_value!r}")
        conf = conf.replace(doc_value, ours)
    temp = {name: tmp / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    return f"""
daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
    access_log {tmp / "access.log"};
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    default_type application/octet-stream;
{conf}
}}
"""


@contextlib.contextmanager
def running_nginx(tmp: Path, *, listen: int, app: str, s3_endpoint: str) -> Iterator[str]:
    """Run nginx (``-p tmp -c nginx.conf``, in the foreground) and yield its base URL."""
    assert NGINX is not None
    tmp.mkdir(parents=True, exist_ok=True)
    conf_path = tmp / "nginx.conf"
    conf_path.write_text(nginx_conf(tmp, listen=listen, app=app, s3_endpoint=s3_endpoint))
    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp), "-c", str(conf_path), "-e", str(tmp / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused the config:\n{check.stderr}")
    log = (tmp / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(conf_path), "-e", str(tmp / "error.log")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        from tests import servers

        servers.wait_for_port(listen, proc, timeout=15)
        yield f"http://127.0.0.1:{listen}"
    finally:
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
