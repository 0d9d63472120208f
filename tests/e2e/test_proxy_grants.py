"""Headless Chromium against MEDIA_DELIVERY=proxy: an <audio> element plays and seeks
through the handed-out proxy URL (its grant, no Authorization header), an <img> loads,
and hiding the set makes the same URL answer 404 at once."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import servers
from tests.e2e.test_web_page import CHROMIUM, CHROMIUM_ARGS
from tests.http_contract.harness import ADMIN_TOKEN, USER_TOKEN, ServerKind, start_server
from tests.media_samples import FFMPEG, audio_bytes, jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow]

FASTAPI = ServerKind(command=[sys.executable, "-m", "examples.fastapi_server"])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A FastAPI reference server handing out proxy URLs."""
    tmp = tmp_path_factory.mktemp("e2e-proxy")
    proc, url, _env, _log = start_server(FASTAPI, "fastapi", tmp, {"MEDIA_DELIVERY": "proxy"})
    try:
        yield url
    finally:
        servers.stop_process(proc)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh headless Chromium profile."""
    servers.need(CHROMIUM.exists(), "Chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        try:
            pg = context.pages[0] if context.pages else context.new_page()
            pg.set_default_timeout(30_000)
            yield pg
        finally:
            context.close()


def _ready_track(base_url: str) -> tuple[str, str]:
    admin = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    )
    with admin:
        s = admin.post(
            "/api/v1/admin/music-sets",
            json={"title": f"e2e-{uuid.uuid4().hex[:6]}", "visible": True},
        ).json()
        files = [("files", ("tone.flac", audio_bytes("flac", 8.0), "audio/flac"))]
        r = admin.post(f"/api/v1/admin/music-sets/{s['id']}/tracks", files=files)
        assert r.status_code == 201, r.text
        track_id = r.json()["items"][0]["id"]
        deadline = time.monotonic() + 60
        while True:
            tracks = admin.get(f"/api/v1/admin/music-sets/{s['id']}").json()["tracks"]
            (t,) = [x for x in tracks if x["id"] == track_id]
            if t["status"] in ("ready", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert t["status"] == "ready", t
        return s["id"], track_id


def test_audio_plays_and_seeks_through_proxy_urls_and_hiding_cuts_them(
    base_url: str, page: Any
) -> None:
    """<audio> plays and seeks over 206s carrying no Authorization; <img> loads; after the
    admin hides the set, the same URL is 404 at once."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    play_seek_and_hide(page, base_url)


def play_seek_and_hide(page: Any, base_url: str) -> None:
    """The browser scenario against a server at ``base_url`` handing out proxy URLs
    (``MEDIA_DELIVERY=proxy``, or ``offload`` behind nginx)."""
    set_id, track_id = _ready_track(base_url)
    user = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {USER_TOKEN}"}, timeout=30
    )
    admin = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    )
    stream = user.get(
        f"/api/v1/user/music-sets/{set_id}/stream/{track_id}", params={"quality": "medium"}
    ).json()
    assert stream["url"].startswith(f"/api/v1/user/media/{track_id}/stream?")
    image = admin.post(
        "/api/v1/admin/images/upload",
        files=[("files", ("e2e.jpg", jpeg_bytes(300, 200), "image/jpeg"))],
        data={"visible": "true"},
    ).json()["items"][0]
    deadline = time.monotonic() + 30  # users see an image once it is ready
    while admin.get(f"/api/v1/admin/images/{image['id']}").json()["status"] != "ready":
        assert time.monotonic() < deadline, "the image was not processed in 30 s"
        time.sleep(0.1)
    image_url = user.get(f"/api/v1/user/images/{image['id']}").json()["url"]

    requests: list[tuple[str, int, dict[str, str]]] = []
    page.on(
        "response",
        lambda r: requests.append((r.url, r.status, r.request.headers)),
    )
    page.goto(base_url + "/healthz")  # an origin on the server; no token anywhere
    page.evaluate(
        """([src, img]) => {
             const a = document.createElement('audio');
             a.id = 'audio'; a.preload = 'auto'; a.src = src;
             document.body.appendChild(a);
             const i = document.createElement('img');
             i.id = 'img'; i.src = img;
             document.body.appendChild(i);
           }""",
        [stream["url"], image_url],
    )
    page.wait_for_function(
        "() => { const i = document.getElementById('img'); return i.complete && i.naturalWidth === 300; }"
    )
    page.evaluate("() => document.getElementById('audio').play()")
    page.wait_for_function(
        "() => { const a = document.getElementById('audio'); return !a.paused && a.currentTime > 0.3; }"
    )
    page.evaluate(
        """() => new Promise(resolve => {
             const a = document.getElementById('audio');
             a.addEventListener('seeked', resolve, {once: true});
             a.currentTime = a.duration / 2;
           })"""
    )
    duration = page.evaluate("() => document.getElementById('audio').duration")
    middle = page.evaluate("() => document.getElementById('audio').currentTime")
    assert duration == pytest.approx(8.0, abs=0.5)
    assert middle == pytest.approx(duration / 2, abs=0.5)
    page.wait_for_function(f"() => document.getElementById('audio').currentTime > {middle + 0.2}")

    path = stream["url"].split("?")[0]
    audio = [r for r in requests if path in r[0]]
    assert audio, requests
    assert any(status == 206 for _, status, _ in audio), audio
    assert all(status in (200, 206) for _, status, _ in audio), audio
    assert all("authorization" not in headers for _, _, headers in requests)

    # --- hiding the set cuts the very same URL at once
    r = admin.put(f"/api/v1/admin/music-sets/{set_id}/visibility", json={"visible": False})
    assert r.status_code == 200, r.text
    status = page.evaluate(
        "src => fetch(src, {headers: {Range: 'bytes=0-99'}}).then(r => r.status)", stream["url"]
    )
    assert status == 404
    # a fresh page (the old one keeps the bytes it already buffered) cannot load it any more
    fresh = page.context.new_page()
    fresh.goto(base_url + "/healthz")
    seen = len(requests)
    fresh.on("response", lambda r: requests.append((r.url, r.status, r.request.headers)))
    error = fresh.evaluate(
        """src => new Promise(resolve => {
             const a = new Audio();
             a.addEventListener('error', () => resolve(a.error && a.error.code), {once: true});
             a.addEventListener('canplay', () => resolve('played'), {once: true});
             a.src = src; a.load();
           })""",
        stream["url"],
    )
    assert error == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED: the 404 is not media
    after = [status for url, status, _ in requests[seen:] if path in url]
    assert after, requests[seen:]
    assert set(after) == {404}
    user.close()
    admin.close()
