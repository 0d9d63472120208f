"""Headless Chromium through nginx offload: an <audio> element plays and seeks through the
handed-out URLs (the app authorizes each request, nginx streams from S3), and hiding the set
makes the same URL 404 at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.e2e.test_proxy_grants import play_seek_and_hide
from tests.e2e.test_web_page import CHROMIUM, CHROMIUM_ARGS
from tests.media_samples import FFMPEG
from tests.offload.conftest import Offloaded

pytestmark = [pytest.mark.browser, pytest.mark.ffmpeg, pytest.mark.slow]


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


@pytest.mark.parametrize("offloaded", [("fastapi", "nanio_server")], indirect=True)
def test_audio_plays_and_seeks_through_nginx_offload(offloaded: Offloaded, page: Any) -> None:
    """The browser scenario of tests/e2e/test_proxy_grants.py, through nginx."""
    servers.need(FFMPEG is not None, "ffmpeg is not installed: apt-get install ffmpeg")
    play_seek_and_hide(page, offloaded.nginx_url)
