"""Settings: defaults, parsing from the environment, and errors that name the variable."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediakit.errors import ConfigurationError
from mediakit.settings import ENV_VARS, GiB, MiB, Settings


def test_defaults_follow_the_spec() -> None:
    s = Settings()
    assert s.presign_ttl == 900
    assert s.s3_path_style is True
    assert s.max_file_size == 4 * GiB
    assert s.multipart_part_size == 8 * MiB
    assert s.audio_quality_default == "medium"
    assert s.audio_pre_encode is True
    assert s.storage_backend == "filesystem"
    assert s.database_url.startswith("sqlite:")
    assert s.s3_checksum_mode == "when_required"


def test_settings_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Settings().presign_ttl = 1  # type: ignore[misc]


def test_from_env_reads_the_spec_variables() -> None:
    s = Settings.from_env(
        {
            "MEDIA_ASSETS_BUCKET": "my-media",
            "MEDIA_S3_ENDPOINT": "https://s3.example.test",
            "MEDIA_S3_ACCESS_KEY_ID": "AK",
            "MEDIA_S3_SECRET_ACCESS_KEY": "SK",
            "MEDIA_MAX_CONCURRENT_UPLOADS": "3",
            "MEDIA_MAX_UPLOAD_SIZE_TOTAL": "2GiB",
            "MEDIA_AUDIO_QUALITY_DEFAULT": "high",
            "MEDIA_AUDIO_PRE_ENCODE": "false",
            "MEDIA_THUMBNAIL_SIZES": "1280, 320,640",
        }
    )
    assert s.assets_bucket == "my-media"
    assert s.storage_backend == "s3", "an endpoint selects the S3 backend"
    assert (s.s3_access_key_id, s.s3_secret_access_key) == ("AK", "SK")
    assert s.max_concurrent_uploads == 3
    assert s.max_upload_size_total == 2 * GiB
    assert s.audio_quality_default == "high"
    assert s.audio_pre_encode is False
    assert s.thumbnail_sizes == (320, 640, 1280)


def test_secrets_are_not_in_repr() -> None:
    s = Settings(s3_access_key_id="AKID", s3_secret_access_key="very-secret")
    assert "very-secret" not in repr(s)


def test_empty_variables_keep_defaults() -> None:
    assert Settings.from_env({"MEDIA_PRESIGN_TTL_SECONDS": "  "}).presign_ttl == 900


def test_overrides_win_over_environment() -> None:
    assert (
        Settings.from_env({"MEDIA_PRESIGN_TTL_SECONDS": "600"}, presign_ttl=1200).presign_ttl
        == 1200
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEDIA_PRESIGN_TTL_SECONDS", "abc"),
        ("MEDIA_PRESIGN_TTL_SECONDS", "0"),
        ("MEDIA_PRESIGN_TTL_SECONDS", "+5"),
        ("MEDIA_PRESIGN_TTL_SECONDS", "1_000"),
        ("MEDIA_PRESIGN_TTL_SECONDS", "٣"),
        ("MEDIA_PRESIGN_WINDOW_SECONDS", "600"),
        ("MEDIA_MAX_FILE_SIZE", "4 parsecs"),
        ("MEDIA_MAX_FILE_SIZE", "0"),
        ("MEDIA_UPLOAD_PART_SIZE", "1MiB"),
        ("MEDIA_S3_PATH_STYLE", "maybe"),
        ("MEDIA_S3_ENDPOINT", "s3.example.test"),
        ("MEDIA_ASSETS_BUCKET", "Not_A_Bucket"),
        ("MEDIA_AUDIO_QUALITY_DEFAULT", "ultra"),
        ("MEDIA_DELIVERY", "carrier-pigeon"),
        ("MEDIA_S3_CHECKSUM_MODE", "always"),
        ("MEDIAKIT_STORAGE", "floppy"),
        ("MEDIAKIT_JOB_RUNNER", "cron"),
        ("MEDIA_THUMBNAIL_SIZES", "320,0"),
        ("MEDIA_THUMBNAIL_SIZES", "320,abc"),
        ("MEDIA_MAX_CONCURRENT_UPLOADS", "-1"),
    ],
)
def test_a_bad_value_fails_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({variable: value})
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_window_defaults_to_a_third_of_the_ttl_and_never_exceeds_half() -> None:
    assert Settings().effective_presign_window == 300
    assert Settings(presign_ttl=60).effective_presign_window == 20
    assert Settings(presign_window=0).effective_presign_window == 0


@given(
    st.integers(min_value=1, max_value=10**12),
    st.sampled_from(["", "B", "KiB", "MB", "mib", "GiB", "g"]),
)
def test_sizes_parse_with_units(n: int, unit: str) -> None:
    factor = {"": 1, "b": 1, "kib": 1024, "mb": MiB, "mib": MiB, "gib": GiB, "g": GiB}[unit.lower()]
    s = Settings.from_env({"MEDIA_MAX_FILE_SIZE": f"{n}{unit}"})
    assert s.max_file_size == n * factor


def test_every_field_has_a_variable_and_a_description() -> None:
    for field in attrs.fields(Settings):
        assert field.metadata.get("env"), field.name
        assert field.metadata.get("doc"), field.name
    assert len(ENV_VARS) == len(attrs.fields(Settings)), "variable names are unique"
