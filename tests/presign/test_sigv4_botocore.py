"""The native SigV4 presigner produces botocore's URL byte for byte."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mediakit.clock import ManualClock
from mediakit.presign import Credentials, SigV4Presigner, signing_time
from tests.quick import examples

ACCESS, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

ENDPOINTS = [
    None,
    "http://127.0.0.1:9000",
    "https://s3.example.com",
    "http://localhost:9000",
    "https://S3.Example.com:8443/prefix/",
    "http://[::1]:9000",
]
REGIONS = ["us-east-1", "eu-central-1", "cn-north-1"]
BUCKETS = ["media-bucket", "my.media.bucket", "abc"]

# Everything S3 keys may hold, weighted towards the characters that need quoting.
_SPECIAL = st.sampled_from(list(" +&=?#%~*'()!/;:,@$[]\"<>\\^`{|}\t\n"))
_TEXT = st.characters(exclude_categories=("Cs",))
KEYS = st.text(st.one_of(_SPECIAL, _TEXT), min_size=1, max_size=40)
HEADER_VALUES = st.none() | st.text(st.one_of(_SPECIAL, _TEXT), max_size=40)
TOKENS = st.none() | st.text(
    st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60
)


@functools.cache
def _client(endpoint: str | None, region: str, style: str, token: str | None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


def botocore_url(
    *,
    endpoint: str | None,
    region: str,
    path_style: bool,
    bucket: str,
    key: str,
    content_type: str | None,
    disposition: str | None,
    token: str | None,
    at: int,
    expires: int,
) -> str:
    """botocore's presigned URL with its clock frozen at ``at`` (epoch seconds)."""
    client = _client(endpoint, region, "path" if path_style else "virtual", token)
    params = {"Bucket": bucket, "Key": key}
    if content_type is not None:
        params["ResponseContentType"] = content_type
    if disposition is not None:
        params["ResponseContentDisposition"] = disposition
    frozen = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
    # botocore reads the signing time from botocore.auth.get_current_datetime()
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        url: str = client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
    return url


@settings(max_examples=examples(200), deadline=None)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    region=st.sampled_from(REGIONS),
    path_style=st.booleans(),
    bucket=st.sampled_from(BUCKETS),
    key=KEYS,
    content_type=HEADER_VALUES,
    disposition=HEADER_VALUES,
    token=TOKENS,
    now=st.floats(min_value=1e9, max_value=4e9),
    ttl=st.sampled_from([60, 900, 3600, 604800]),
    window=st.sampled_from([0, 1, 30, None]),
)
def test_url_equals_botocores_byte_for_byte(
    endpoint: str | None,
    region: str,
    path_style: bool,
    bucket: str,
    key: str,
    content_type: str | None,
    disposition: str | None,
    token: str | None,
    now: float,
    ttl: int,
    window: int | None,
) -> None:
    """For any key, headers, token, endpoint, addressing style and time: botocore's URL."""
    # botocore puts a dotted bucket in front of an IP address (``my.bucket.127.0.0.1``),
    # a host no client can reach; mediakit uses path style there.
    ip_endpoint = endpoint is not None and ("127.0.0.1" in endpoint or "[" in endpoint)
    assume(not (ip_endpoint and not path_style and "." in bucket))
    signer = SigV4Presigner(
        bucket,
        credentials=Credentials(ACCESS, SECRET, token),
        endpoint_url=endpoint,
        region=region,
        path_style=path_style,
        ttl=ttl,
        window=window,
        clock=ManualClock(now),
    )
    ours = signer.sign(key, content_type=content_type, disposition=disposition).url
    theirs = botocore_url(
        endpoint=endpoint,
        region=region,
        path_style=path_style,
        bucket=bucket,
        key=key,
        content_type=content_type,
        disposition=disposition,
        token=token,
        at=signing_time(now, ttl // 3 if window is None else window),
        expires=ttl,
    )
    assert ours == theirs


def test_default_endpoint_is_botocores_aws_choice() -> None:
    """No endpoint: the legacy global host for us-east-1, regional hosts elsewhere."""
    clock = ManualClock(1_700_000_000)
    creds = Credentials(ACCESS, SECRET)
    east = SigV4Presigner("bkt", credentials=creds, clock=clock).sign("k").url
    assert east.startswith("https://s3.amazonaws.com/bkt/k?")
    virtual = SigV4Presigner(
        "bkt", credentials=creds, region="eu-west-1", path_style=False, clock=clock
    ).sign("k")
    assert virtual.url.startswith("https://bkt.s3.eu-west-1.amazonaws.com/k?")


def test_issue_characters_match_botocore_in_both_styles_with_token() -> None:
    """The key from the issue (unicode, spaces, ``+&=?#%~*'()!``, ``/``) in both styles."""
    key = "dir/sub dir/ä ü+&=?#%~*'()!.jpg"
    for path_style in (True, False):
        for token in (None, "FwoGZXIvYXdzE+/="):
            signer = SigV4Presigner(
                "media-bucket",
                credentials=Credentials(ACCESS, SECRET, token),
                endpoint_url="https://s3.example.com",
                path_style=path_style,
                window=0,
                clock=ManualClock(1_700_000_000.5),
            )
            ct, cd = "image/jpeg", "attachment; filename*=UTF-8''%C3%A4.jpg"
            ours = signer.sign(key, content_type=ct, disposition=cd).url
            theirs = botocore_url(
                endpoint="https://s3.example.com",
                region="us-east-1",
                path_style=path_style,
                bucket="media-bucket",
                key=key,
                content_type=ct,
                disposition=cd,
                token=token,
                at=1_700_000_000,
                expires=900,
            )
            assert ours == theirs


def test_ip_endpoint_keeps_path_style_for_dotted_buckets() -> None:
    """Virtual style never puts a bucket in front of an IP address (unlike botocore)."""
    signer = SigV4Presigner(
        "my.bucket",
        credentials=Credentials(ACCESS, SECRET),
        endpoint_url="http://127.0.0.1:9000",
        path_style=False,
        clock=ManualClock(),
    )
    assert signer.sign("k").url.startswith("http://127.0.0.1:9000/my.bucket/k?")
