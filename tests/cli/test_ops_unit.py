"""In-process tests of the command bodies over memory parts: progress output (rich on a
terminal, plain lines otherwise), failures reported and counted, the exit status."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from mediakit.cli import _ops, build_parser, main
from mediakit.models import ProcessingStatus
from mediakit.service import MediaKit
from tests.fixtures_media import jpeg_bytes
from tests.service.kit import ADMIN, make_kit, multipart, seed_image


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _kit_with_a_good_and_a_broken_image() -> tuple[MediaKit, str, str]:
    kit = make_kit()
    body, ct = multipart([("a.jpg", jpeg_bytes(200, 100))])
    good = kit.service.upload_images(ADMIN, body=[body], content_type=ct)["items"][0]["id"]
    broken = seed_image(kit).id  # its "original" is not an image: processing fails
    return kit, good, broken


def test_reprocess_prints_plain_lines_and_exits_1_when_an_item_fails() -> None:
    kit, good, broken = _kit_with_a_good_and_a_broken_image()
    out = io.StringIO()
    status = _ops.reprocess(kit.settings, "all", out=out, store=kit.store, repos=kit.repos)
    text = out.getvalue()
    assert status == 1
    assert f"image {good}: ready" in text
    assert f"image {broken}: failed (" in text
    assert "re-processed: 1 ready, 1 failed or missing" in text
    assert kit.repos.images.get(good).status is ProcessingStatus.READY  # type: ignore[union-attr]


def test_reprocess_draws_a_rich_progress_bar_on_a_terminal() -> None:
    kit, good, _ = _kit_with_a_good_and_a_broken_image()
    out = FakeTerminal()
    status = _ops.reprocess(
        kit.settings, "images", [good], out=out, store=kit.store, repos=kit.repos
    )
    text = out.getvalue()
    assert status == 0
    assert "re-processing" in text
    assert "1/1" in text  # the bar's M-of-N column
    assert "\x1b[" in text  # drawn with terminal control codes
    assert "re-processed: 1 ready, 0 failed" in text


def test_gc_json_lists_nothing_on_a_clean_store(tmp_path: Path) -> None:
    kit, _, _ = _kit_with_a_good_and_a_broken_image()
    out = io.StringIO()
    status = _ops.gc(
        kit.settings,
        min_age=timedelta(0),
        as_json=True,
        out=out,
        store=kit.store,
        repos=kit.repos,
        tmp_dir=str(tmp_path),
    )
    assert status == 0
    assert json.loads(out.getvalue()) == {
        "deleted": False,
        "orphan_objects": [],
        "stale_multipart_uploads": [],
        "stale_temp_dirs": [],
        "young_skipped": 0,
    }


@pytest.mark.parametrize("bad", ["-1", "1.5", "+5", "\u0663"])
def test_min_age_must_be_whole_ascii_seconds(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["gc", "--min-age", "60"]).min_age == 60
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["gc", "--min-age", bad])
    assert exc.value.code == 2
    assert "--min-age" in capsys.readouterr().err


def test_main_returns_2_on_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDIA_UPLOAD_PART_SIZE", "lots")
    assert main(["migrate"]) == 2
    assert "MEDIA_UPLOAD_PART_SIZE" in capsys.readouterr().err
