"""Streaming multipart/form-data reading: parts in order, caps enforced while streaming,
truncated or malformed bodies refused, sync and async alike."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediakit.errors import BadRequest, MediaKitError, UnsupportedMediaType, UploadTooLarge
from mediakit.uploads.limits import UploadLimits
from mediakit.uploads.multipart import (
    AsyncFilePart,
    AsyncMultipartReader,
    FilePart,
    FormField,
    MultipartReader,
    iter_file,
    parse_boundary,
)
from tests.quick import examples
from tests.uploads._forms import CONTENT_TYPE, achunked, chunked, encode

LIMITS = UploadLimits()


def read_all(reader: MultipartReader) -> list[tuple[str, str | None, bytes]]:
    out: list[tuple[str, str | None, bytes]] = []
    for item in reader:
        if isinstance(item, FormField):
            out.append((item.name, None, item.value.encode()))
        else:
            out.append((item.field_name, item.filename, b"".join(item.chunks())))
    return out


async def aread_all(reader: AsyncMultipartReader) -> list[tuple[str, str | None, bytes]]:
    out: list[tuple[str, str | None, bytes]] = []
    async for item in reader:
        if isinstance(item, FormField):
            out.append((item.name, None, item.value.encode()))
        else:
            out.append((item.field_name, item.filename, b"".join([c async for c in item.chunks()])))
    return out


PARTS = [
    ("title", None, b"Summer"),
    ("files", "caf\u00e9.png", b"\x89PNG" + bytes(range(256)) * 300),
    ("files", "empty.bin", b""),
    ("files", "b.jpg", b"--not-a-boundary\r\n" * 10),
]


def test_fields_and_files_come_out_in_body_order() -> None:
    body = encode(PARTS)
    got = read_all(MultipartReader(chunked(body, 1000), content_type=CONTENT_TYPE, limits=LIMITS))
    assert got == PARTS


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(0, 80_000), max_size=12))
def test_any_chunking_of_the_body_gives_the_same_parts(cuts: list[int]) -> None:
    body = encode(PARTS)
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(points)]
    got = read_all(MultipartReader(chunks, content_type=CONTENT_TYPE, limits=LIMITS))
    assert got == PARTS


@settings(max_examples=examples(150))
@given(
    body=st.binary(max_size=400),
    prefix=st.sampled_from([b"", b"--" + b"mediakit-test-boundary-7MA4YWxkTrZu0gW\r\n"]),
)
def test_arbitrary_bodies_either_parse_or_raise_a_mediakit_error(
    body: bytes, prefix: bytes
) -> None:
    status = 200
    try:
        read_all(MultipartReader([prefix + body], content_type=CONTENT_TYPE, limits=LIMITS))
    except MediaKitError as exc:
        status = exc.http_status
    assert status in (200, 400, 413)


def test_head_is_buffered_and_replayed_by_chunks() -> None:
    data = bytes(range(256)) * 100
    reader = MultipartReader(
        chunked(encode([("files", "a", data)]), 3000), content_type=CONTENT_TYPE, limits=LIMITS
    )
    part = next(iter(reader))
    assert isinstance(part, FilePart)
    assert part.read_head(8192) == data[:8192]
    assert b"".join(part.chunks()) == data
    assert part.size == len(data)
    with pytest.raises(RuntimeError, match="once"):
        next(part.chunks())


def test_unread_file_part_is_skipped_when_the_next_item_is_asked_for() -> None:
    body = encode([("files", "a", b"x" * 100_000), ("files", "b", b"second")])
    items = iter(MultipartReader(chunked(body, 777), content_type=CONTENT_TYPE, limits=LIMITS))
    first = next(items)
    assert isinstance(first, FilePart)
    second = next(items)
    assert isinstance(second, FilePart)
    assert b"".join(second.chunks()) == b"second"


def test_file_bytes_flow_in_chunks_no_bigger_than_the_body_chunks() -> None:
    """Bounded memory: a 20 MiB file is handed on chunk by chunk, never accumulated."""
    size = 20 * 1024 * 1024

    def body() -> Iterator[bytes]:
        yield encode([("files", "big", b"")])[
            : -len(b"\r\n--mediakit-test-boundary-7MA4YWxkTrZu0gW--\r\n")
        ]
        block = b"\xab" * 65536
        for _ in range(size // 65536):
            yield block
        yield b"\r\n--mediakit-test-boundary-7MA4YWxkTrZu0gW--\r\n"

    part = next(iter(MultipartReader(body(), content_type=CONTENT_TYPE, limits=LIMITS)))
    assert isinstance(part, FilePart)
    biggest = total = 0
    for c in part.chunks():
        biggest = max(biggest, len(c))
        total += len(c)
    assert total == size
    assert biggest <= 65536


def test_mid_file_chunks_are_handed_on_as_they_came_not_copied() -> None:
    """A body chunk wholly inside a file reaches ``chunks()`` as the very object read
    (the upload path copies no byte it need not); chunks holding a boundary, or a
    mutable ``bytearray``, come out as copies of their own."""
    tail = b"\r\n--mediakit-test-boundary-7MA4YWxkTrZu0gW--\r\n"
    head = encode([("files", "big", b"")])[: -len(tail)]
    middle = [bytes([i]) * 65536 for i in range(4)]
    mutable = bytearray(b"\xcd" * 65536)
    sent = [head, *middle, mutable, b"end" + tail]

    def check(got: list[bytes]) -> None:
        assert b"".join(got) == b"".join(middle) + bytes(mutable) + b"end"
        assert [any(g is m for g in got) for m in middle] == [True] * 4
        assert not any(g is mutable for g in got)

    part = next(iter(MultipartReader(iter(sent), content_type=CONTENT_TYPE, limits=LIMITS)))
    assert isinstance(part, FilePart)
    check(list(part.chunks()))

    async def async_chunks() -> list[bytes]:
        reader = AsyncMultipartReader(achunked_list(sent), content_type=CONTENT_TYPE, limits=LIMITS)
        apart = await reader.__aiter__().__anext__()
        assert isinstance(apart, AsyncFilePart)
        return [c async for c in apart.chunks()]

    check(anyio.run(async_chunks))


async def achunked_list(chunks: list[bytes | bytearray]) -> AsyncIterator[bytes | bytearray]:
    for c in chunks:
        yield c


def test_body_cut_mid_file_is_a_bad_request_naming_the_file() -> None:
    body = encode([("files", "song.flac", b"y" * 50_000)])
    reader = MultipartReader(chunked(body[:30_000], 4096), content_type=CONTENT_TYPE, limits=LIMITS)
    part = next(iter(reader))
    assert isinstance(part, FilePart)
    with pytest.raises(BadRequest, match=r"ended before .*'song.flac'"):
        b"".join(part.chunks())


def test_body_without_closing_boundary_is_a_bad_request() -> None:
    body = encode([("title", None, b"x")])[:-10]
    with pytest.raises(BadRequest, match="ended before"):
        read_all(MultipartReader([body], content_type=CONTENT_TYPE, limits=LIMITS))


@pytest.mark.parametrize(
    "ctype", [None, "application/json", "multipart/mixed; boundary=x", "text/plain"]
)
def test_non_multipart_requests_are_unsupported_media_type(ctype: str | None) -> None:
    with pytest.raises(UnsupportedMediaType, match="multipart/form-data"):
        MultipartReader([], content_type=ctype, limits=LIMITS)


@pytest.mark.parametrize(
    "ctype",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "x" * 71,
    ],
)
def test_missing_or_invalid_boundary_is_a_bad_request(ctype: str) -> None:
    with pytest.raises(BadRequest, match="boundary"):
        parse_boundary(ctype)


def test_declared_content_length_above_the_cap_is_refused_before_reading() -> None:
    def body() -> Iterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    with pytest.raises(UploadTooLarge, match="1 KiB"):
        MultipartReader(
            body(),
            content_type=CONTENT_TYPE,
            content_length=2048,
            limits=UploadLimits(max_upload_size_total=1024),
        )


def test_file_cap_crossed_without_content_length_stops_reading_at_the_cap() -> None:
    pulled = 0
    body = encode([("files", "big.wav", b"z" * 200_000), ("files", "after", b"never")])

    def stream() -> Iterator[bytes]:
        nonlocal pulled
        for c in chunked(body, 8192):
            pulled += len(c)
            yield c

    reader = MultipartReader(
        stream(), content_type=CONTENT_TYPE, limits=UploadLimits(max_file_size=50_000)
    )
    part = next(iter(reader))
    assert isinstance(part, FilePart)
    with pytest.raises(UploadTooLarge, match=r"'big\.wav'.*48\.83 KiB"):
        for _ in part.chunks():
            pass
    assert pulled <= 50_000 + 2 * 8192


def test_total_cap_counts_the_whole_body() -> None:
    body = encode([("files", "a", b"1" * 600), ("files", "b", b"2" * 600)])
    with pytest.raises(UploadTooLarge, match="1000 bytes allowed in one request"):
        read_all(
            MultipartReader(
                chunked(body, 100),
                content_type=CONTENT_TYPE,
                limits=UploadLimits(max_upload_size_total=1000),
            )
        )


def test_too_many_files_and_fields_are_refused() -> None:
    files = encode([("files", str(i), b"x") for i in range(4)])
    with pytest.raises(BadRequest, match="Too many files"):
        read_all(
            MultipartReader(
                [files], content_type=CONTENT_TYPE, limits=UploadLimits(max_files_per_request=3)
            )
        )
    fields = encode([(f"f{i}", None, b"x") for i in range(3)])
    with pytest.raises(BadRequest, match="Too many form fields"):
        read_all(
            MultipartReader(
                [fields], content_type=CONTENT_TYPE, limits=UploadLimits(max_fields_per_request=2)
            )
        )


def test_field_values_are_capped() -> None:
    body = encode([("title", None, b"t" * 100)])
    with pytest.raises(BadRequest, match="'title' is longer"):
        read_all(
            MultipartReader(
                [body], content_type=CONTENT_TYPE, limits=UploadLimits(max_field_size=99)
            )
        )


def test_part_without_a_name_is_a_bad_request() -> None:
    body = (
        b"--mediakit-test-boundary-7MA4YWxkTrZu0gW\r\nContent-Disposition: attachment\r\n\r\nx\r\n"
        b"--mediakit-test-boundary-7MA4YWxkTrZu0gW--\r\n"
    )
    with pytest.raises(BadRequest, match="Content-Disposition"):
        read_all(MultipartReader([body], content_type=CONTENT_TYPE, limits=LIMITS))


def test_iter_file_reads_a_file_like_body(tmp_path: object) -> None:
    import io

    assert list(iter_file(io.BytesIO(b"abcdef"), 4)) == [b"abcd", b"ef"]


def test_async_reader_gives_the_same_parts() -> None:
    body = encode(PARTS)

    async def main() -> list[tuple[str, str | None, bytes]]:
        return await aread_all(
            AsyncMultipartReader(achunked(body, 999), content_type=CONTENT_TYPE, limits=LIMITS)
        )

    assert anyio.run(main) == PARTS


def test_async_reader_enforces_caps_and_detects_truncation() -> None:
    body = encode([("files", "x.mp3", b"q" * 40_000)])

    async def cut() -> None:
        reader = AsyncMultipartReader(
            achunked(body[:20_000], 4096), content_type=CONTENT_TYPE, limits=LIMITS
        )
        async for part in reader:
            assert isinstance(part, AsyncFilePart)
            assert len(await part.read_head(100)) == 100
            async for _ in part.chunks():
                pass

    with pytest.raises(BadRequest, match="ended before"):
        anyio.run(cut)

    async def big() -> None:
        reader = AsyncMultipartReader(
            achunked(body, 4096), content_type=CONTENT_TYPE, limits=UploadLimits(max_file_size=1000)
        )
        await aread_all(reader)

    with pytest.raises(UploadTooLarge, match=r"'x\.mp3'"):
        anyio.run(big)


_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'),
    min_size=1,
    max_size=20,
)


@settings(max_examples=examples(80), suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(
        st.tuples(
            _names,
            st.one_of(st.none(), _names),
            st.binary(max_size=3000).map(lambda b: b.replace(b"\r\n--", b"\n--")),
        ),
        max_size=6,
    ),
    chunk=st.integers(1, 5000),
)
def test_encoded_forms_round_trip_through_the_reader(
    parts: list[tuple[str, str | None, bytes]], chunk: int
) -> None:
    """Whatever the names, file names (UTF-8) and contents, and however the body is chunked,
    the reader gives back exactly the parts that were encoded."""
    expected = [
        (n, f, d if f is not None else d.decode("utf-8", "replace").encode()) for n, f, d in parts
    ]
    body = encode(parts)
    got = read_all(MultipartReader(chunked(body, chunk), content_type=CONTENT_TYPE, limits=LIMITS))
    assert got == expected
