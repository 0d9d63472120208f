"""The suite's real servers start and answer."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import s3_client
from tests.servers import ACCESS_KEY, ServerHandle


def test_moto_server_round_trips_an_object(
    moto_server: ServerHandle, fresh_bucket_name: str
) -> None:
    c = s3_client(moto_server.url)
    c.create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    c.put_object(Bucket=fresh_bucket_name, Key="k", Body=b"hello")  # type: ignore[attr-defined]
    assert c.get_object(Bucket=fresh_bucket_name, Key="k")["Body"].read() == b"hello"  # type: ignore[attr-defined]


def test_nanio_rejects_a_tampered_presigned_url(
    nanio_server: ServerHandle, fresh_bucket_name: str
) -> None:
    import httpx

    c = s3_client(nanio_server.url)
    c.create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    c.put_object(Bucket=fresh_bucket_name, Key="a", Body=b"A")  # type: ignore[attr-defined]
    c.put_object(Bucket=fresh_bucket_name, Key="b", Body=b"B")  # type: ignore[attr-defined]
    url = c.generate_presigned_url(
        "get_object", Params={"Bucket": fresh_bucket_name, "Key": "a"}, ExpiresIn=60
    )  # type: ignore[attr-defined]
    assert httpx.get(url).content == b"A"
    assert httpx.get(url.replace("/a?", "/b?")).status_code == 403


@pytest.mark.postgres
def test_postgres_answers_a_query(postgres_server: ServerHandle) -> None:
    import psycopg

    with psycopg.connect(
        f"host=127.0.0.1 port={postgres_server.port} user=postgres dbname=postgres"
    ) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)


@pytest.mark.redis
def test_redis_answers_ping(redis_server: ServerHandle) -> None:
    import redis

    assert redis.Redis.from_url(redis_server.url).ping() is True


@pytest.mark.s3
@pytest.mark.ceph
def test_ceph_rgw_round_trips_and_refuses_a_tampered_presigned_url(
    ceph_rgw_server: ServerHandle, fresh_bucket_name: str
) -> None:
    import httpx

    assert ceph_rgw_server.extra["access_key"] == ACCESS_KEY  # from `radosgw-admin user create`
    c = s3_client(ceph_rgw_server.url)
    c.create_bucket(Bucket=fresh_bucket_name)  # type: ignore[attr-defined]
    c.put_object(Bucket=fresh_bucket_name, Key="a", Body=b"A")  # type: ignore[attr-defined]
    c.put_object(Bucket=fresh_bucket_name, Key="b", Body=b"B")  # type: ignore[attr-defined]
    url = c.generate_presigned_url(
        "get_object", Params={"Bucket": fresh_bucket_name, "Key": "a"}, ExpiresIn=60
    )  # type: ignore[attr-defined]
    assert httpx.get(url).content == b"A"
    assert httpx.get(url.replace("/a?", "/b?")).status_code == 403
    # the HTTPS endpoint serves the same gateway, with the fixture's certificate
    ctx = ssl.create_default_context(cafile=ceph_rgw_server.extra["ca_file"])
    tls = httpx.get(ceph_rgw_server.extra["https_url"], verify=ctx)
    assert tls.status_code in {200, 403}


@pytest.mark.s3
@pytest.mark.ceph
@pytest.mark.slow
def test_ceph_rgw_stop_kills_every_daemon_and_removes_its_directory() -> None:
    handle = servers.start_ceph_rgw()
    directory = Path(handle.extra["dir"])
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and str(directory) in _cmdline(p)]
    assert len(pids) == 3  # ceph-mon, ceph-osd, radosgw
    handle.stop()
    assert not directory.exists()
    assert not [p for p in pids if Path(f"/proc/{p}").exists()]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_ceph_rgw_skips_with_an_install_hint_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers, "IN_CI", False)
    hint = "apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common"
    with pytest.raises(pytest.skip.Exception, match=hint):
        servers.start_ceph_rgw()
    monkeypatch.setattr(servers, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        servers.start_ceph_rgw()
