"""Storage timeouts and retry budget: settings -> botocore/aiobotocore client config."""

from __future__ import annotations

import pytest

from mediakit.errors import ConfigurationError
from mediakit.settings import Settings
from mediakit.storage._common import client_config_kwargs
from mediakit.storage.s3 import make_client_config


def test_defaults_bound_a_hung_endpoint_to_about_ten_seconds() -> None:
    """2 s to connect, 4 s per read, 2 attempts in total (not 60 s x 5 as before)."""
    kw = client_config_kwargs(Settings())
    assert (kw["connect_timeout"], kw["read_timeout"]) == (2.0, 4.0)
    assert kw["retries"] == {"mode": "standard", "total_max_attempts": 2}
    config = make_client_config(Settings())
    assert (config.connect_timeout, config.read_timeout) == (2.0, 4.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_the_settings_reach_both_clients() -> None:
    """MEDIA_S3_CONNECT_TIMEOUT / _READ_TIMEOUT / _MAX_ATTEMPTS from the environment
    end up in botocore's Config and aiobotocore's AioConfig."""
    from aiobotocore.config import AioConfig

    settings = Settings.from_env(
        {
            "MEDIA_S3_CONNECT_TIMEOUT": "0.5",
            "MEDIA_S3_READ_TIMEOUT": "30",
            "MEDIA_S3_MAX_ATTEMPTS": "5",
        }
    )
    for config in (make_client_config(settings), AioConfig(**client_config_kwargs(settings))):
        assert (config.connect_timeout, config.read_timeout) == (0.5, 30.0)
        assert config.retries["total_max_attempts"] == 5


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("MEDIA_S3_CONNECT_TIMEOUT", "0"),
        ("MEDIA_S3_READ_TIMEOUT", "-1"),
        ("MEDIA_S3_READ_TIMEOUT", "1e3"),
        ("MEDIA_S3_READ_TIMEOUT", "four"),
        ("MEDIA_S3_MAX_ATTEMPTS", "0"),
        ("MEDIA_S3_MAX_ATTEMPTS", "2.5"),
    ],
)
def test_bad_values_name_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: raw})
