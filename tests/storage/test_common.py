"""The pure helpers the S3 stores share: spans, parts, batches, etags, client config."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import StorageError
from mediakit.settings import Settings
from mediakit.storage import ByteSpan, make_client_config
from mediakit.storage._common import (
    DELETE_ATTEMPTS,
    MAX_DELETE_BATCH,
    MAX_PARTS,
    MIN_PART_SIZE,
    PartAssembler,
    PartGatherer,
    UploadedParts,
    batches,
    client_kwargs,
    delete_requests,
    failed_delete_keys,
    has_etag,
    quote_etag,
    range_header,
)


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_range_header_is_absolute_first_last(a: int, b: int) -> None:
    """Every valid span becomes ``bytes=first-last``; never a suffix or open range."""
    first, last = min(a, b), max(a, b)
    assert range_header(ByteSpan(first, last)) == f"bytes={first}-{last}"


@pytest.mark.parametrize(("first", "last"), [(-1, 5), (5, 4), (-3, -1)])
def test_range_header_refuses_invalid_spans(first: int, last: int) -> None:
    """Negative or reversed spans are a programming error, refused before any request."""
    with pytest.raises(ValueError, match="invalid byte span"):
        range_header(ByteSpan(first, last))


@given(st.lists(st.integers(0, 40), max_size=30), st.integers(1, 13))
def test_part_assembler_cuts_exact_parts_and_keeps_every_byte(sizes: list[int], part: int) -> None:
    """Whatever the chunk sizes, every part but the last has exactly ``part_size`` bytes,
    and the parts put together are the stream."""
    chunks = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    asm = PartAssembler(part, minimum=1)
    parts: list[bytes] = []
    for chunk in chunks:
        parts.extend(asm.feed(chunk))
    assert all(len(p) == part for p in parts)
    rest = asm.rest()
    assert len(rest) < part
    assert b"".join([*parts, rest]) == b"".join(chunks)
    assert asm.total == sum(sizes)


def test_part_assembler_refuses_parts_below_the_s3_minimum() -> None:
    """Parts under 5 MiB are refused up front (S3 would refuse the upload at the end)."""
    with pytest.raises(ValueError, match="at least"):
        PartAssembler(MIN_PART_SIZE - 1)


def test_part_assembler_refuses_more_than_ten_thousand_parts() -> None:
    """A stream needing more parts than S3 allows fails with an actionable message."""
    asm = PartAssembler(MIN_PART_SIZE)
    asm.parts_out = MAX_PARTS
    with pytest.raises(StorageError, match="MEDIA_UPLOAD_PART_SIZE"):
        asm.feed(b"x" * MIN_PART_SIZE)


class _SmallCoalesce(PartGatherer):
    COALESCE = 8


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["bytes", "bytearray", "view"])), max_size=30
    ),
    st.integers(1, 13),
)
def test_part_gatherer_cuts_exact_parts_from_the_chunks_themselves(
    chunks: list[tuple[int, str]], part: int
) -> None:
    """The gatherer's parts are the assembler's (exact sizes, every byte in order), made
    of the caller's ``bytes`` chunks by reference, small or mutable chunks copied (the
    caller may reuse a buffer), and the last short part joined by :meth:`rest`."""
    made = []
    for i, (n, kind) in enumerate(chunks):
        raw = bytes([i % 251]) * n
        made.append(
            raw if kind == "bytes" else bytearray(raw) if kind == "bytearray" else memoryview(raw)
        )
    gatherer = _SmallCoalesce(part, minimum=1)  # both paths: copied and by reference
    parts = []
    for chunk in made:
        parts.extend(gatherer.feed(chunk))
    assert all(len(p) == part for p in parts)
    joined = [bytes(p.join()) for p in parts]
    rest = gatherer.rest()
    assert len(rest) < part
    assert b"".join([*joined, rest]) == b"".join(bytes(c) for c in made)
    assert gatherer.total == sum(n for n, _ in chunks)
    mutable = {id(c) for c in made if type(c) is not bytes}
    for p in parts:
        for piece in p.pieces:
            base = piece.obj if isinstance(piece, memoryview) else piece
            assert id(base) not in mutable  # never the caller's buffer, which may change


def test_part_gatherer_keeps_large_chunks_by_reference() -> None:
    """A chunk inside a part is the caller's object; one across two parts is two views
    of it: nothing is copied."""
    k = 1024
    a, b, c = b"a" * 96 * k, b"b" * 64 * k, b"c" * 100 * k
    gatherer = PartGatherer(200 * k, minimum=1)
    assert gatherer.feed(a) == []
    assert gatherer.feed(b) == []
    (part,) = gatherer.feed(c)
    assert part.pieces[0] is a
    assert part.pieces[1] is b
    assert isinstance(part.pieces[2], memoryview)
    assert part.pieces[2].obj is c
    assert bytes(part.join()) == a + b + c[: 40 * k]
    assert gatherer.rest() == c[40 * k :]


def test_part_gatherer_coalesces_a_trickle_of_small_chunks() -> None:
    """A client sending a byte at a time does not make a part of millions of objects:
    small chunks are copied together into pieces of COALESCE bytes."""
    gatherer = PartGatherer(300_000, minimum=1)
    parts = []
    for i in range(300_000 + 5):
        parts.extend(gatherer.feed(bytes([i % 256])))
    (part,) = parts
    assert len(part.pieces) == -(-300_000 // PartGatherer.COALESCE)
    assert bytes(part.join()) == bytes(i % 256 for i in range(300_000))
    assert gatherer.rest() == bytes(i % 256 for i in range(300_000, 300_005))


def test_part_gatherer_refuses_more_than_ten_thousand_parts() -> None:
    gatherer = PartGatherer(MIN_PART_SIZE)
    gatherer.parts_out = MAX_PARTS
    with pytest.raises(StorageError, match="MEDIA_UPLOAD_PART_SIZE"):
        gatherer.feed(b"x" * MIN_PART_SIZE)


@given(st.lists(st.text(max_size=3), max_size=2500), st.integers(1, 1000))
def test_batches_are_bounded_unique_and_complete(keys: list[str], size: int) -> None:
    """Batches hold at most ``size`` keys, each key once, in first-seen order."""
    out = list(batches(keys, size))
    assert all(0 < len(b) <= size for b in out)
    assert [k for b in out for k in b] == list(dict.fromkeys(keys))


def test_missing_keys_are_not_delete_failures() -> None:
    """A NoSuchKey per-key error counts as deleted; other codes are failures."""
    resp = {
        "Errors": [
            {"Key": "a", "Code": "NoSuchKey"},
            {"Key": "b", "Code": "InternalError"},
            {"Key": "c", "Code": "SlowDown"},
        ]
    }
    assert failed_delete_keys(resp) == {"b": "InternalError", "c": "SlowDown"}
    assert failed_delete_keys({}) == {}


@pytest.mark.parametrize(
    ("raw", "quoted"), [("abc", '"abc"'), ('"abc"', '"abc"'), ('W/"x"', 'W/"x"')]
)
def test_etags_come_back_quoted(raw: str, quoted: str) -> None:
    """Entity tags are quoted as HTTP wants, whatever the server sent."""
    assert quote_etag(raw) == quoted


def test_client_config_follows_settings() -> None:
    """Path-style, SigV4, checksum mode, standard retries and pool size come from settings."""
    s = Settings(s3_checksum_mode="when_supported", s3_max_pool_connections=7)
    cfg = make_client_config(s)
    assert cfg.s3 == {"addressing_style": "path"}
    assert cfg.signature_version == "s3v4"
    assert cfg.request_checksum_calculation == "when_supported"
    assert cfg.response_checksum_validation == "when_supported"
    assert cfg.retries is not None
    assert cfg.retries["mode"] == "standard"
    assert cfg.max_pool_connections == 7
    assert make_client_config(Settings(s3_path_style=False)).s3 == {"addressing_style": "auto"}
    assert make_client_config(Settings()).request_checksum_calculation == "when_required"


def test_client_kwargs_pass_endpoint_region_and_credentials() -> None:
    """Endpoint, region and (session) credentials reach the client; unset ones do not."""
    s = Settings(
        s3_endpoint="https://s3.example.test",
        s3_region="eu-central-3",
        s3_access_key_id="AK",
        s3_secret_access_key="SK",
        s3_session_token="TOK",
    )
    assert client_kwargs(s) == {
        "region_name": "eu-central-3",
        "endpoint_url": "https://s3.example.test",
        "aws_access_key_id": "AK",
        "aws_secret_access_key": "SK",
        "aws_session_token": "TOK",
    }
    assert client_kwargs(Settings()) == {"region_name": "us-east-1"}


# ------------------------------------------------------------------ open_range helpers


def test_open_range_header_forms() -> None:
    from mediakit.storage._common import open_range_header

    assert open_range_header(0, None) is None
    assert open_range_header(0, 0) == "bytes=0-0"
    assert open_range_header(5, None) == "bytes=5-"
    assert open_range_header(5, 9) == "bytes=5-9"
    for first, last in [(-1, None), (5, 4)]:
        with pytest.raises(ValueError, match="invalid byte range"):
            open_range_header(first, last)


@given(
    size=st.integers(1, 2**62),
    first_pick=st.integers(0, 2**62),
    length_pick=st.integers(1, 2**62),
    spelling=st.sampled_from(["bytes", "BYTES", "Bytes"]),
)
def test_opened_span_reads_any_valid_content_range(
    size: int, first_pick: int, length_pick: int, spelling: str
) -> None:
    """Any valid ``Content-Range`` of a 206 gives back its span and the object size."""
    from mediakit.storage._common import opened_span

    first = first_pick % size
    last = first + (length_pick - 1) % (size - first)
    header = f"{spelling} {first}-{last}/{size}"
    assert opened_span(header, last - first + 1) == (ByteSpan(first, last), size)


def test_opened_span_without_content_range_is_the_whole_object() -> None:
    from mediakit.storage._common import opened_span

    assert opened_span(None, 10) == (ByteSpan(0, 9), 10)
    assert opened_span(None, 0) == (None, 0)


@pytest.mark.parametrize(
    ("header", "length"),
    [
        ("bytes 0-9/10", 9),  # length disagrees
        ("bytes 0-10/10", 11),  # past the end
        ("bytes 5-4/10", 0),  # backwards
        ("bytes */10", 0),  # a 416's
        ("items 0-9/10", 10),
        ("bytes 0-9/*", 10),  # unknown size
        ("bytes \uff10-9/10", 10),  # a Unicode digit int() would accept
        ("bytes 0-9/10 trailing", 10),
        ("", 0),
    ],
)
def test_opened_span_refuses_what_is_not_a_span_of_the_object(header: str, length: int) -> None:
    from mediakit.storage._common import opened_span

    with pytest.raises(ValueError, match="Content-Range"):
        opened_span(header, length)


@given(header=st.text(max_size=60), length=st.integers(0, 2**40))
def test_opened_span_never_fails_otherwise(header: str, length: int) -> None:
    """Whatever a server sends, the parser answers a span or a ValueError."""
    from mediakit.storage._common import opened_span

    try:
        span, size = opened_span(header, length)
    except ValueError:
        return
    assert span is not None
    assert 0 <= span.first <= span.last < size


def _sent_keys(kwargs: dict[str, object]) -> list[str]:
    delete = kwargs["Delete"]
    assert isinstance(delete, dict)
    assert delete["Quiet"] is True
    return [o["Key"] for o in delete["Objects"]]


@given(st.lists(st.sets(st.sampled_from("abcdef")), max_size=DELETE_ATTEMPTS - 1))
def test_delete_requests_resend_only_the_failed_keys(failing: list[set[str]]) -> None:
    """Each attempt sends the keys the previous answer reported as failed, after a
    doubling delay; once none fail, the batch is done (both S3 stores follow this plan)."""
    keys = list("abcdef")
    sent: list[list[str]] = []
    delays: list[float] = []
    answers = iter(failing)
    for request in delete_requests("bkt", keys):
        assert request.kwargs["Bucket"] == "bkt"
        sent.append(_sent_keys(request.kwargs))
        delays.append(request.delay)
        fail = next(answers, set()) & set(sent[-1])
        request.response = {"Errors": [{"Key": k, "Code": "SlowDown"} for k in sorted(fail)]}
    assert sent[0] == keys
    for previous, nxt in itertools.pairwise(sent):
        assert nxt
        assert set(nxt) <= set(previous)
    assert delays == [0.0] + [0.1 * 2**a for a in range(1, len(sent))]


def test_delete_requests_give_up_after_the_last_attempt() -> None:
    """Keys still failing after DELETE_ATTEMPTS answers are a StorageError naming one."""
    requests = delete_requests("bkt", ["a", "b"])
    for _ in range(DELETE_ATTEMPTS - 1):
        next(requests).response = {"Errors": [{"Key": "b", "Code": "AccessDenied"}]}
    last = next(requests)
    assert _sent_keys(last.kwargs) == ["b"]
    last.response = {"Errors": [{"Key": "b", "Code": "AccessDenied"}]}
    with pytest.raises(StorageError, match=f"after {DELETE_ATTEMPTS} attempts.*'b': AccessDenied"):
        next(requests)


def test_delete_requests_batch_and_need_every_answer() -> None:
    """Batches of MAX_DELETE_BATCH distinct keys; a request left unanswered is a bug."""
    keys = [f"k{i}" for i in range(MAX_DELETE_BATCH + 5)] + ["k0"]
    sizes = []
    for request in delete_requests("bkt", keys):
        sizes.append(len(_sent_keys(request.kwargs)))
        request.response = {}
    assert sizes == [MAX_DELETE_BATCH, 5]
    with pytest.raises(RuntimeError, match="response"):
        for _request in delete_requests("bkt", ["a"]):
            pass


def test_uploaded_parts_number_the_parts_and_complete_with_their_etags() -> None:
    parts = UploadedParts("bkt", "k", "up-1")
    first, second = parts.upload_request(b"x" * 3), parts.upload_request(b"y")
    assert (first["PartNumber"], second["PartNumber"]) == (1, 2)
    assert (first["Body"], first["UploadId"], first["Key"]) == (b"xxx", "up-1", "k")
    parts.uploaded(first, {"ETag": '"e1"'})
    parts.uploaded(second, {"ETag": '"e2"'})
    assert parts.complete_request() == {
        "Bucket": "bkt",
        "Key": "k",
        "UploadId": "up-1",
        "MultipartUpload": {
            "Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]
        },
    }


@pytest.mark.parametrize(
    ("etag", "says"), [('"abc"', True), ('W/"a"', True), ("", False), ('""', False), (" ", False)]
)
def test_has_etag(etag: str, says: bool) -> None:
    assert has_etag(etag) is says
