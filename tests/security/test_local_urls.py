"""Local signed URLs (/api/v1/media/local/{key}): no traversal, no tampering, safe headers."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from tests.http_contract.harness import Api, assert_error
from tests.media_samples import jpeg_bytes
from tests.security.conftest import raw_request, raw_status

LOCAL = "/api/v1/media/local/"


@pytest.fixture(scope="module")
def signed(sec: Api) -> dict[str, Any]:
    """A visible image's original URL: its key and its query parameters."""
    created = sec.create_image(
        f"sec-{uuid.uuid4().hex[:8]}", visible=True, content=jpeg_bytes(300, 200)
    )
    ready = sec.wait_image(created["id"])
    view = sec.user.get(f"/api/v1/user/images/{ready['id']}").json()
    parts = urlsplit(view["url"])
    assert parts.path.startswith(LOCAL), view["url"]
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    thumb = urlsplit(next(iter(view["thumbnails"].values())))
    return {
        "url": view["url"],
        "key": parts.path[len(LOCAL) :],
        "query": query,
        "thumb_key": thumb.path[len(LOCAL) :],
    }


def _url(key: str, query: dict[str, str]) -> str:
    return LOCAL + key + "?" + urlencode(query)


def test_the_handed_out_url_works(sec: Api, signed: dict[str, Any]) -> None:
    """Baseline: the URL as handed out serves the image."""
    r = sec.fetch(signed["url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"


def test_signature_for_one_key_does_not_open_another(sec: Api, signed: dict[str, Any]) -> None:
    """A valid signature of key A used on key B (the same image's thumbnail) is 403."""
    r = sec.fetch(_url(signed["thumb_key"], signed["query"]))
    assert_error(r, 403, "url_signature_invalid")


@pytest.mark.parametrize(
    "suffix",
    [
        "/../../mediakit.db",
        "/..%2f..%2fmediakit.db",
        "%2f..%2f..%2f..%2fetc%2fpasswd",
        "/",
        "%00",
        "%5c..%5c..%5cmediakit.db",
    ],
)
def test_key_with_extra_path_is_refused(sec: Api, signed: dict[str, Any], suffix: str) -> None:
    """Anything appended to a signed key (dot segments, encoded slashes, NUL, backslashes)
    breaks the signature: 403 (or 404 from the router), never a file's bytes."""
    path = LOCAL + signed["key"] + suffix + "?" + urlencode(signed["query"])
    response = raw_request(
        sec, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    status = raw_status(response)
    assert status in (403, 404), (suffix, response[:300])
    assert b"SQLite" not in response
    assert b"root:" not in response


@pytest.mark.parametrize(
    "key",
    [
        "../mediakit.db",
        "%2e%2e/mediakit.db",
        "%2e%2e%2fmediakit.db",
        "..%5cmediakit.db",
        "%2fetc%2fpasswd",
        "/etc/passwd",
        "images/%00/orig",
        "....//mediakit.db",
    ],
)
def test_traversal_keys_never_serve_files(sec: Api, signed: dict[str, Any], key: str) -> None:
    """Traversal attempts in the key with the query of a real URL: 4xx JSON, no file bytes."""
    path = LOCAL + key + "?" + urlencode(signed["query"])
    response = raw_request(
        sec, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    assert raw_status(response) in (403, 404), (key, response[:300])
    assert b"SQLite format" not in response
    assert b"root:" not in response


@pytest.mark.parametrize(
    "change",
    [
        {"ct": "text/html"},
        {"ct": "image/svg+xml"},
        {"ct": "image/jpeg\r\nX-Injected: 1"},
        {"cd": "attachment; filename=x.html"},
        {"cd": "inline\r\nSet-Cookie: a=b"},
        {"exp": "99999999999"},
        {"exp": "-1"},
        {"sig": "A" * 43},
        {"sig": ""},
    ],
)
def test_changing_any_signed_parameter_is_403(
    sec: Api, signed: dict[str, Any], change: dict[str, str]
) -> None:
    """Changing the content type, the disposition (even with CRLF), the expiry or the
    signature answers 403; no injected header reaches the response."""
    query = {**signed["query"], **change}
    r = sec.fetch(_url(signed["key"], query))
    assert_error(r, 403)
    assert "x-injected" not in r.headers
    assert "set-cookie" not in r.headers
    assert not r.headers["content-type"].startswith(("text/html", "image/svg"))


@pytest.mark.parametrize("drop", ["sig", "exp"])
def test_missing_parameters_are_403(sec: Api, signed: dict[str, Any], drop: str) -> None:
    """A URL without its signature or expiry is 403 ``url_signature_invalid``."""
    query = {k: v for k, v in signed["query"].items() if k != drop}
    assert_error(sec.fetch(_url(signed["key"], query)), 403, "url_signature_invalid")


def test_added_ct_to_a_url_signed_without_one_is_403(sec: Api, signed: dict[str, Any]) -> None:
    """Adding a ``cd`` a URL was not signed with (to make it an HTML attachment) is 403."""
    query = {**signed["query"], "cd": "attachment"}
    query.pop("cd") if "cd" in signed["query"] else None
    query["cd"] = quote("inline; filename=x.html")
    assert_error(sec.fetch(_url(signed["key"], query)), 403)


def test_repeated_parameters_do_not_bypass_the_signature(sec: Api, signed: dict[str, Any]) -> None:
    """A second ``ct`` after the signed one: the server must not verify one value and serve
    the other."""
    url = signed["url"] + "&ct=text%2Fhtml"
    r = sec.fetch(url)
    if r.status_code == 200:
        assert r.headers["content-type"] == "image/jpeg"
    else:
        assert_error(r, 403)
    url = LOCAL + signed["key"] + "?ct=text%2Fhtml&" + urlsplit(signed["url"]).query
    r = sec.fetch(url)
    if r.status_code == 200:
        assert r.headers["content-type"] == "image/jpeg"
    else:
        assert_error(r, 403)


def test_local_urls_need_no_token_and_ignore_one(sec: Api, signed: dict[str, Any]) -> None:
    """A local URL is the credential: it works without a token, and a token does not make
    an altered one valid."""
    assert sec.anon.get(signed["url"]).status_code == 200
    bad = _url(signed["thumb_key"], signed["query"])
    assert sec.admin.get(bad).status_code == 403
