"""How the async S3 store reads a response body (fast in-process tests over a real aiohttp
``StreamReader``; the contract suite streams real bodies from moto and nanio)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import pytest
from botocore.exceptions import IncompleteReadError
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from mediakit.storage._common import GatheredPart
from mediakit.storage._part_http import _PartBody
from mediakit.storage.s3_async import _body_chunks

pytestmark = pytest.mark.anyio


class _Protocol:
    """The flow-control half of an aiohttp protocol, recording pauses."""

    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self, resume_parser: bool = True) -> None:
        self.paused = False


class _Body:
    """An aiobotocore ``StreamingBody`` stand-in: the aiohttp response it wraps."""

    def __init__(self, content: Any) -> None:
        self.__wrapped__ = type("Response", (), {"content": content})()


def _reader(pieces: list[bytes]) -> Any:
    from aiohttp import StreamReader

    reader = StreamReader(_Protocol(), 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    for piece in pieces:
        reader.feed_data(piece)
    reader.feed_eof()
    return reader


def _reader_with_chunks(chunks: list[bytes]) -> Any:
    from aiohttp import StreamReader

    reader = StreamReader(_Protocol(), 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    for chunk in chunks:
        reader.begin_http_chunk_receiving()
        reader.feed_data(chunk)
        reader.end_http_chunk_receiving()
    reader.feed_eof()
    return reader


async def _collect(body: Any, length: int | None, chunk_size: int) -> list[bytes]:
    return [chunk async for chunk in _body_chunks(body, length, chunk_size)]


async def test_pieces_are_handed_over_whole_and_split_only_past_chunk_size() -> None:
    """Received pieces pass through unjoined; one larger than chunk_size is split."""
    pieces = [b"a" * 100, b"b" * 250, b"c" * 40]
    chunks = await _collect(_Body(_reader(pieces)), 390, chunk_size=100)
    assert b"".join(chunks) == b"".join(pieces)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert [len(c) for c in chunks] == [100, 100, 100, 50, 40]


async def test_a_body_shorter_than_its_content_length_raises() -> None:
    """Fewer bytes than Content-Length raise IncompleteReadError after the last chunk."""
    with pytest.raises(IncompleteReadError, match="300 read, but total bytes expected is 400"):
        await _collect(_Body(_reader([b"x" * 300])), 400, chunk_size=1024)


async def test_chunked_encoding_boundaries_do_not_end_the_body() -> None:
    """``(b"", True)`` from ``readchunk()`` (an HTTP chunk boundary) is skipped, not the end."""

    class Scripted:
        def __init__(self) -> None:
            self.replies = [(b"ab", False), (b"", True), (b"cd", True), (b"", False)]

        async def readchunk(self) -> tuple[bytes, bool]:
            return self.replies.pop(0)

    assert b"".join(await _collect(_Body(Scripted()), 4, chunk_size=1024)) == b"abcd"


async def test_real_chunked_encoding_is_read_whole() -> None:
    """A chunked-encoding body fed to a real StreamReader comes out whole."""
    reader = _reader_with_chunks([b"abc", b"", b"defg"])
    assert b"".join(await _collect(_Body(reader), 7, chunk_size=1024)) == b"abcdefg"


async def test_another_http_backend_falls_back_to_iter_chunks() -> None:
    """A body without an aiohttp stream is read through its own ``iter_chunks``."""

    class Plain:
        async def iter_chunks(self, size: int) -> Any:
            for piece in (b"12", b"345"):
                yield piece

    assert await _collect(Plain(), 5, chunk_size=2) == [b"12", b"345"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@given(
    st.lists(st.binary(max_size=50), max_size=8),
    st.lists(st.integers(-1, 60), min_size=1, max_size=12),
)
@hyp_settings(max_examples=200, deadline=None)
def test_a_gathered_part_body_reads_hashes_and_seeks_as_one_buffer(
    anyio_backend: str, pieces: list[bytes], reads: list[int]
) -> None:
    """A part made of the request's chunks reads (in any sizes), hashes, seeks and
    measures as the same bytes in one buffer would; the transport gets the pieces."""
    whole = b"".join(pieces)
    body = _PartBody(GatheredPart(list(pieces), len(whole)))
    assert [bytes(p) for p in body.pieces()] == pieces
    assert body.sha256_of_part() == hashlib.sha256(whole).hexdigest()
    assert body.seek(0, io.SEEK_END) == len(whole)
    body.seek(0)
    out = b""
    for n in reads:
        out += bytes(body.read(n))
    assert whole.startswith(out)
    assert out + bytes(body.read()) == whole
    assert body.tell() == len(whole)
    assert bytes(body.getbuffer()) == whole
