"""Property tests over real HTTP: whatever a client sends, the answer is a contract answer.

Arbitrary Range headers on the proxy give 200, 206 with exactly the bytes named in
Content-Range, or 416; arbitrary cursors give 200 or 400; arbitrary limits give 200 inside
1..100 and 422 outside. Never a 5xx.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http_contract.harness import Api, assert_error
from tests.media_samples import jpeg_bytes
from tests.quick import examples

EXAMPLES = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
# header values httpx can send: visible ASCII, inner spaces (no leading/trailing whitespace)
HEADER_TEXT = (
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)


@pytest.fixture(scope="module")
def image(api: Api) -> dict[str, Any]:
    """A visible image and its original bytes."""
    data = jpeg_bytes(300, 200)
    created = api.create_image(f"props-{uuid.uuid4().hex[:8]}", visible=True, content=data)
    return {**created, "data": data}


def _ranges(size: int) -> st.SearchStrategy[str]:
    n = st.integers(min_value=0, max_value=2 * size)
    single = st.one_of(
        st.builds(lambda a, b: f"bytes={a}-{b}", n, n),
        st.builds(lambda a: f"bytes={a}-", n),
        st.builds(lambda a: f"bytes=-{a}", n),
    )
    return st.one_of(single, HEADER_TEXT, st.builds(lambda s: "bytes=" + s, HEADER_TEXT))


def test_any_range_header_gets_a_consistent_answer(api: Api, image: dict[str, Any]) -> None:
    """200 with everything, 206 with exactly the Content-Range slice, or 416 with bytes */size."""
    data: bytes = image["data"]
    size = len(data)
    path = f"/api/v1/user/media/{image['id']}/stream"

    @EXAMPLES
    @given(header=_ranges(size))
    def check(header: str) -> None:
        r = api.user.get(path, headers={"Range": header})
        assert r.status_code in (200, 206, 416), (header, r.status_code, r.text[:200])
        if r.status_code == 200:
            assert r.content == data
        elif r.status_code == 416:
            assert r.headers["content-range"] == f"bytes */{size}"
        elif r.headers["content-type"].startswith("multipart/byteranges"):
            assert "," in header  # only several ranges may come back as multipart
        else:
            m = CONTENT_RANGE.fullmatch(r.headers["content-range"])
            assert m, r.headers["content-range"]
            first, last, total = (int(g) for g in m.groups())
            assert total == size
            assert 0 <= first <= last < size
            assert r.content == data[first : last + 1]

    check()


@pytest.mark.parametrize("path", ["/api/v1/user/images", "/api/v1/admin/music-sets"])
def test_any_cursor_is_200_or_400(api: Api, path: str) -> None:
    """A cursor the server did not issue is refused with 400, never a server error."""
    client = api.admin if "/admin/" in path else api.user

    @EXAMPLES
    @given(cursor=st.text(max_size=60))
    def check(cursor: str) -> None:
        r = client.get(path, params={"cursor": cursor, "limit": 5})
        assert r.status_code in (200, 400), (cursor, r.status_code, r.text[:200])
        if r.status_code == 400:
            assert_error(r, 400)
        else:
            assert len(r.json()["items"]) <= 5

    check()


def test_any_limit_is_200_inside_1_to_100_else_422(api: Api) -> None:
    """Integer limits in 1..100 are served with at most that many items; others are 422."""

    @EXAMPLES
    @given(limit=st.integers(min_value=-(10**6), max_value=10**6))
    def check(limit: int) -> None:
        r = api.user.get("/api/v1/user/images", params={"limit": limit})
        if 1 <= limit <= 100:
            assert r.status_code == 200, (limit, r.text[:200])
            assert len(r.json()["items"]) <= limit
        else:
            assert_error(r, 422, "invalid_input")

    check()
