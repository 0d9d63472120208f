"""End to end in headless Chromium: the demo page against a real FastAPI reference server.

Signs in with the admin token, uploads two images and a track through the page, sees the
thumbnails in the gallery, plays the track, seeks to the middle and switches quality, and checks
that the browser fetched the audio with 206 Partial Content responses.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.http_contract.harness import ADMIN_TOKEN, USER_TOKEN, ServerKind, start_server
from tests.media_samples import FFMPEG, audio_bytes, jpeg_bytes, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOT = Path(tempfile.gettempdir()) / "mediakit-e2e.png"
USER_SCREENSHOT = Path(tempfile.gettempdir()) / "mediakit-e2e-user.png"
FASTAPI = ServerKind(command=[sys.executable, "-m", "examples.fastapi_server"])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A FastAPI reference server (SQLite + filesystem store) on a free port."""
    tmp = tmp_path_factory.mktemp("e2e-server")
    proc, url, _env, _log = start_server(FASTAPI, "fastapi", tmp, {})
    try:
        yield url
    finally:
        servers.stop_process(proc)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh headless Chromium profile (Debian's chromium, driven by Playwright)."""
    servers.need(CHROMIUM.exists(), "Chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 1000},
            env={**os.environ, "HOME": str(tmp_path)},
        )
        try:
            pg = context.pages[0] if context.pages else context.new_page()
            pg.set_default_timeout(30_000)
            yield pg
        finally:
            context.close()


def test_upload_gallery_play_and_seek(base_url: str, page: Any) -> None:  # noqa: PLR0915  (one browser session walked step by step)
    """Images and a track uploaded through the page show up, play, seek and switch quality."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    responses: list[tuple[str, int, str | None]] = []
    page.on(
        "response",
        lambda r: responses.append((r.url, r.status, r.request.headers.get("range"))),
    )

    page.goto(base_url + "/")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#save-token")
    page.wait_for_selector("#admin-panel", state="visible")
    assert page.text_content("#whoami") == "Signed in as admin."

    # --- two images through the drop zone's file input, one request (and bar) per file
    page.set_input_files(
        "#image-files",
        [
            {"name": "sunrise.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(900, 600)},
            {"name": "lake.png", "mimeType": "image/png", "buffer": png_bytes(640, 480)},
        ],
    )
    page.wait_for_function(
        "() => document.querySelectorAll('#upload-list .upload.done').length === 2"
    )
    assert page.eval_on_selector_all("#upload-list progress", "els => els.map(e => e.value)") == [
        100,
        100,
    ]
    # a real drop event on the zone (a DataTransfer carrying a File) uploads too
    page.evaluate(
        """b64 => {
             const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
             const dt = new DataTransfer();
             dt.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}));
             const zone = document.getElementById('image-drop');
             zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
             zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
           }""",
        base64.b64encode(jpeg_bytes(640, 480)).decode(),
    )
    page.wait_for_function(
        "() => document.querySelectorAll('#upload-list .upload.done').length === 3"
    )
    assert page.text_content("#upload-list .upload:nth-child(3) .name") == "dropped.jpg"
    # thumbnails appear in the gallery once processed (the page polls)
    page.wait_for_function(
        """() => [...document.querySelectorAll('#gallery img')]
                 .filter(i => i.complete && i.naturalWidth > 0 && i.currentSrc.length > 0)
                 .length >= 3"""
    )
    srcsets = page.eval_on_selector_all("#gallery img", "els => els.map(e => e.srcset)")
    assert all(" 320w" in s or "w, " in s for s in srcsets), srcsets

    # --- a visible music set and a track uploaded into it
    page.fill("#set-title", "Evening tones")
    page.fill("#set-description", "Made by ffmpeg")
    page.check("#set-visible")
    page.click("#set-form button[type=submit]")
    card = page.locator(".set", has_text="Evening tones")
    card.wait_for()
    card.locator(".track-files").set_input_files(
        {"name": "tone.flac", "mimeType": "audio/flac", "buffer": audio_bytes("flac", 8.0)}
    )
    page.locator(".set", has_text="Evening tones").locator(
        ".track[data-status=ready] button.play"
    ).wait_for(timeout=60_000)

    # --- play, then seek to the middle
    page.locator(".set", has_text="Evening tones").locator(".track button.play").first.click()
    page.wait_for_function(
        "() => { const a = document.getElementById('audio'); return !a.paused && a.currentTime > 0.3; }"
    )
    assert "(medium)" in (page.text_content("#now-playing") or "")
    page.evaluate(
        """() => new Promise(resolve => {
             const a = document.getElementById('audio');
             a.addEventListener('seeked', resolve, {once: true});
             a.currentTime = a.duration / 2;
           })"""
    )
    middle = page.evaluate("() => document.getElementById('audio').currentTime")
    duration = page.evaluate("() => document.getElementById('audio').duration")
    assert duration == pytest.approx(8.0, abs=0.5)
    assert middle == pytest.approx(duration / 2, abs=0.5)
    page.wait_for_function(f"() => document.getElementById('audio').currentTime > {middle + 0.2}")

    # --- switching quality keeps the position
    page.select_option("#quality", "high")
    page.wait_for_function(
        "() => document.getElementById('now-playing').textContent.includes('(high)')"
    )
    page.wait_for_function(
        f"""() => {{ const a = document.getElementById('audio');
                    return a.currentSrc.length > 0 && a.readyState >= 1 && a.currentTime >= {middle - 0.5}; }}"""
    )
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # --- the browser fetched the audio with byte ranges, answered 206
    src = page.evaluate("() => document.getElementById('audio').currentSrc")
    audio_path = src.split("?")[0]
    partial = [r for r in responses if r[0].split("?")[0] == audio_path and r[1] == 206]
    assert partial, [r for r in responses if "api/v1/user/images" not in r[0]]
    assert all(r[2] and r[2].startswith("bytes=") for r in partial)
    admin_failures = [r for r in responses if r[1] >= 400]
    assert not admin_failures, admin_failures
    assert not console_errors, console_errors

    # --- a user sees the gallery and the music, not the admin panel (the page learns the
    # role from a 403 on an admin listing: the only failed request expected from here on)
    seen = len(responses)
    page.click("#sign-out")
    assert page.evaluate("() => document.getElementById('audio').paused")
    page.fill("#token", USER_TOKEN)
    page.click("#save-token")
    page.wait_for_function(
        "() => document.getElementById('whoami').textContent === 'Signed in as user.'"
    )
    assert page.is_hidden("#admin-panel")
    page.wait_for_function("() => document.querySelectorAll('#gallery img').length >= 3")
    user_card = page.locator(".set", has_text="Evening tones")
    user_card.wait_for()
    assert user_card.locator(".track-files").is_hidden()
    assert user_card.locator(".track button.play").first.is_enabled()
    page.screenshot(path=str(USER_SCREENSHOT), full_page=True)

    user_failures = [r for r in responses[seen:] if r[1] >= 400]
    assert [(url.split("/api/v1/")[1], status) for url, status, _ in user_failures] == [
        ("admin/images?limit=1", 403)
    ]
