"""The suite's real servers start and answer."""

from __future__ import annotations

import pytest

from tests.conftest import s3_client
from tests.servers import ServerHandle


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
