"""Session-wide fixtures: the real servers (started once, on 127.0.0.1) and S3 buckets."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests import servers
from tests.servers import ACCESS_KEY, SECRET_KEY, ServerHandle

# moto's server accepts any credentials; use the same ones everywhere.
os.environ.setdefault("AWS_ACCESS_KEY_ID", ACCESS_KEY)
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[ServerHandle]:
    """moto in server mode, one per test session."""
    with servers.running(servers.start_moto) as h:
        yield h


@pytest.fixture(scope="session")
def nanio_server() -> Iterator[ServerHandle]:
    """nanio (checks SigV4 signatures and expiry), one per test session."""
    with servers.running(servers.start_nanio) as h:
        yield h


@pytest.fixture(scope="session")
def ceph_rgw_server() -> Iterator[ServerHandle]:
    """Ceph RGW on a throwaway one-node cluster, one per test session (started on first use,
    in about two seconds; ``extra`` holds its keys and its HTTPS endpoint)."""
    with servers.running(servers.start_ceph_rgw) as h:
        yield h


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ServerHandle]:
    """A throwaway PostgreSQL cluster, one per test session."""
    with servers.running(servers.start_postgres) as h:
        yield h


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerHandle]:
    """redis-server, one per test session."""
    with servers.running(servers.start_redis) as h:
        yield h


def s3_client(endpoint: str) -> object:
    """A plain boto3 client for test setup (path-style, non-AWS checksum settings)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


_bucket_counter = iter(range(1, 1_000_000))


@pytest.fixture
def fresh_bucket_name() -> str:
    """A bucket name unique within the session."""
    return f"mk-test-{os.getpid()}-{next(_bucket_counter)}"
