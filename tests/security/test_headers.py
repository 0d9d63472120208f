"""Every byte-serving route answers with safe headers, whatever was uploaded and named."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from typing import Any

import httpx
import pytest
from PIL import Image

from tests import servers
from tests.http_contract.harness import Api, assert_error
from tests.media_samples import FFMPEG, audio_bytes, html_bytes, jpeg_bytes
from tests.security.conftest import stored_files

_PARAM = re.compile(r';\s*([A-Za-z*]+)=("(?:[^"\\]|\\.)*"|[^;"\s]+)')
_DISPOSITION = re.compile(
    r'(attachment|inline)((?:;\s*[A-Za-z*]+=(?:"(?:[^"\\]|\\.)*"|[^;"\s]+))*)'
)

_KEY_PART = re.compile(r"[A-Za-z0-9._-]{1,128}")

HOSTILE_NAMES = [
    'evil".wav',
    "evil\r\nX-Injected: 1.wav",
    "../../../etc/passwd.wav",
    "..\\..\\windows.wav",
    "caf\u00e9 \u202etxt.exe.wav",
    "\u65e5\u672c\u8a9e.wav",
    "a;filename=x.html.wav",
    "%0d%0aX-Injected: 1.wav",
]


def _check_serving_headers(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff", r.headers
    assert "sandbox" in r.headers["content-security-policy"], r.headers
    ctype = r.headers["content-type"].lower()
    for active in ("html", "svg", "xml"):
        assert active not in ctype, ctype
    assert "x-injected" not in r.headers
    disposition = r.headers.get("content-disposition")
    if disposition is not None:
        assert all(0x20 <= ord(c) < 0x7F for c in disposition), disposition


def _disposition_params(value: str) -> dict[str, str]:
    """The parameters of a Content-Disposition value, each name once (else AssertionError).

    A strict RFC 6266 reading: ``type *( ";" name "=" (token / quoted-string) )`` must cover
    the whole value, so an injected parameter or an unbalanced quote is seen.
    """
    match = _DISPOSITION.fullmatch(value)
    assert match, value
    pairs = [(m[1].lower(), m[2].strip('"')) for m in _PARAM.finditer(match[2])]
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), value
    return dict(pairs)


def gif_html_polyglot() -> bytes:
    """A real GIF with an HTML/JS page appended (a browser sniffing it could run the script)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(out, "GIF")
    return out.getvalue() + b"<html><script>alert(document.domain)</script></html>"


@pytest.fixture(scope="module")
def hostile_set(sec: Api) -> dict[str, Any]:
    """A visible set with one ready track per hostile file name."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    music_set = sec.create_set(f"sec-{uuid.uuid4().hex[:8]}", visible=True)
    data = audio_bytes("wav", 0.5)
    r = sec.upload_tracks(music_set["id"], [(n, data, "text/html") for n in HOSTILE_NAMES[:4]])
    assert r.status_code == 201, r.text
    r2 = sec.upload_tracks(music_set["id"], [(n, data, "text/html") for n in HOSTILE_NAMES[4:]])
    assert r2.status_code == 201, r2.text
    tracks = [
        sec.wait_track(music_set["id"], t["id"]) for t in r.json()["items"] + r2.json()["items"]
    ]
    return {"set": music_set, "tracks": tracks}


def test_hostile_file_names_give_safe_download_headers(
    sec: Api, hostile_set: dict[str, Any]
) -> None:
    """Quotes, CRLF, unicode, bidi, ``../`` and ``;`` in a file name: the download URL and the
    ``?quality=original`` proxy answer an ASCII ``attachment`` disposition, no injected header."""
    set_id = hostile_set["set"]["id"]
    for t in hostile_set["tracks"]:
        assert t["status"] == "ready", t
        got = sec.user.get(f"/api/v1/user/music-sets/{set_id}/download/{t['id']}")
        assert got.status_code == 200, got.text
        r = sec.fetch(got.json()["url"])
        assert r.status_code == 200
        _check_serving_headers(r)
        assert r.headers["content-disposition"].startswith("attachment"), r.headers
        r = sec.user.get(f"/api/v1/user/media/{t['id']}/stream", params={"quality": "original"})
        assert r.status_code == 200
        _check_serving_headers(r)
        assert r.headers["content-disposition"].startswith("attachment")
        params = _disposition_params(r.headers["content-disposition"])
        assert set(params) <= {"filename", "filename*"}, params
        assert params["filename"].endswith(".wav"), params
        assert "/" not in params["filename"], params
        assert "\\" not in params["filename"], params


def test_file_names_never_reach_object_keys(sec: Api, hostile_set: dict[str, Any]) -> None:
    """No stored object's path contains any part of an uploaded file name, and nothing is
    stored outside the store directory."""
    files = stored_files(sec)
    assert files
    for path in files:
        parts = path.split("/")
        assert all(_KEY_PART.fullmatch(part) and part not in (".", "..") for part in parts), path
        for bad in ("evil", "passwd", "windows", "filename", "Injected", "txt.exe"):
            assert bad not in path, path


@pytest.mark.parametrize(
    "data",
    [gif_html_polyglot(), b"GIF89a<html>" + html_bytes()],
    ids=["gif-then-html", "gif-signature-then-html"],
)
def test_polyglot_gif_is_served_as_gif_never_html(sec: Api, data: bytes) -> None:
    """A GIF with an HTML page appended (or only a GIF signature in front of HTML) is stored
    as ``image/gif`` (or refused) and, if stored, every route serves it as ``image/gif`` with
    nosniff and a sandbox CSP, whether its processing succeeded or failed."""
    r = sec.upload_images([("page.html", data, "text/html")], visible=True)
    if r.status_code in (415, 422):  # refused by type, or by the image check at the door
        assert_error(r, r.status_code)
        return
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert item["content_type"] == "image/gif"
    sec.wait_image(item["id"])
    view = sec.user.get(f"/api/v1/user/images/{item['id']}").json()
    for response in (
        sec.fetch(view["url"]),
        sec.user.get(f"/api/v1/user/media/{item['id']}/stream"),
        sec.user.head(f"/api/v1/user/media/{item['id']}/stream"),
    ):
        assert response.status_code == 200
        _check_serving_headers(response)
        assert response.headers["content-type"] == "image/gif"
    for url in view["thumbnails"].values():
        response = sec.fetch(url)
        _check_serving_headers(response)
        assert response.headers["content-type"] == "image/webp"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        (
            "logo.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        ),
        ("page.jpg", html_bytes()),
        ("archive.jpg", None),
        (
            "nested.jpg",
            b"--inner\r\nContent-Type: text/html\r\n\r\n<script>x</script>\r\n--inner--\r\n",
        ),
        ("empty.jpg", b""),
    ],
)
def test_active_or_disguised_content_is_refused(sec: Api, name: str, data: bytes | None) -> None:
    """SVG under a PNG name, HTML under a JPEG name, a GIF signature in front of HTML,
    a zip, a nested multipart body, an empty file: 415 (or 400 for empty), nothing stored."""
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("a.jpg", jpeg_bytes(10, 10))
        data = buf.getvalue()
    before_files = stored_files(sec)
    before = {i["id"] for i in sec.walk(sec.admin, "/api/v1/admin/images")}
    r = sec.upload_images([("ok.jpg", jpeg_bytes(20, 20), "image/jpeg"), (name, data, "image/png")])
    assert r.status_code in (400, 415), (name, r.status_code, r.text[:300])
    assert {i["id"] for i in sec.walk(sec.admin, "/api/v1/admin/images")} == before
    assert stored_files(sec) <= before_files
