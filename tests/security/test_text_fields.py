"""Titles and descriptions: any Unicode a database can store is kept; the rest is a 422."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import UnprocessableEntity
from mediakit.service import _policy as policy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@given(st.text(max_size=50))
def test_text_without_surrogates_or_nul_is_kept(text: str) -> None:
    """Every string that encodes as UTF-8 and has no NUL is accepted (stripped)."""
    encodable = "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    if encodable:
        assert policy.image_changes(NOW, description=text)["description"] == text.strip()
    else:
        with pytest.raises(UnprocessableEntity):
            policy.image_changes(NOW, description=text)


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "x\x00y", "\x00"])
def test_surrogates_and_nul_are_invalid_input(bad: str) -> None:
    """A lone surrogate or a NUL in a title is ``invalid_input`` (was a 500 from the database)."""
    with pytest.raises(UnprocessableEntity) as info:
        policy.music_set_changes(NOW, title=bad)
    assert info.value.code == "invalid_input"
    with pytest.raises(UnprocessableEntity):
        policy.new_music_set_fields(bad, "", False)
    with pytest.raises(UnprocessableEntity):
        policy.track_changes(NOW, title=bad)
