"""``settings.MEDIAKIT`` -> ``mediakit.Settings``, adapter options and system checks."""

from __future__ import annotations

import pytest

from tests.django.support import ensure_django

ensure_django()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.test import override_settings  # noqa: E402

from mediakit.models import Principal  # noqa: E402
from mediakit_django import auth, checks, conf  # noqa: E402
from mediakit_django.kit import url_prefix  # noqa: E402


def test_lower_case_keys_become_settings_fields() -> None:
    """A lower-case MEDIAKIT key sets the Settings field of that name."""
    with override_settings(MEDIAKIT={"max_files_per_request": 7, "assets_bucket": "photos"}):
        s = conf.mediakit_settings({})
    assert (s.max_files_per_request, s.assets_bucket) == (7, "photos")


def test_environment_variables_still_apply_and_keys_win_over_them() -> None:
    """MEDIA_* variables are read underneath; a MEDIAKIT key overrides its variable."""
    env = {"MEDIA_MAX_FILES_PER_REQUEST": "3", "MEDIA_ASSETS_BUCKET": "from-env"}
    with override_settings(MEDIAKIT={"assets_bucket": "from-django"}):
        s = conf.mediakit_settings(env)
    assert (s.max_files_per_request, s.assets_bucket) == (3, "from-django")


def test_an_unknown_key_is_improperly_configured_and_named() -> None:
    """A typo fails with ImproperlyConfigured naming the key and a close match."""
    with (
        override_settings(MEDIAKIT={"max_file_sise": 1}),
        pytest.raises(ImproperlyConfigured, match=r"'max_file_sise'.*'max_file_size'"),
    ):
        conf.mediakit_settings({})
    with (
        override_settings(MEDIAKIT={"PRINCIPAL_RESOLVR": "x"}),
        pytest.raises(ImproperlyConfigured, match="PRINCIPAL_RESOLVR"),
    ):
        conf.adapter_options()


def test_a_bad_value_is_improperly_configured_naming_the_variable() -> None:
    """A value Settings refuses is reported as ImproperlyConfigured with its variable."""
    with (
        override_settings(MEDIAKIT={"delivery": "carrier-pigeon"}),
        pytest.raises(ImproperlyConfigured, match="MEDIA_DELIVERY"),
    ):
        conf.mediakit_settings({})


def test_the_principal_resolver_is_a_dotted_path() -> None:
    """PRINCIPAL_RESOLVER names any callable(request) -> Principal | None."""
    with override_settings(
        MEDIAKIT={"PRINCIPAL_RESOLVER": "mediakit_django.auth.session_principal"}
    ):
        assert auth.get_resolver() is auth.session_principal
    with (
        override_settings(MEDIAKIT={"PRINCIPAL_RESOLVER": "nowhere.to_be.found"}),
        pytest.raises(ImproperlyConfigured, match="cannot be imported"),
    ):
        auth.get_resolver()


def test_tokens_map_to_principals() -> None:
    """TOKENS values may be dicts or Principal objects."""
    with override_settings(
        MEDIAKIT={"TOKENS": {"a": {"id": "ops", "is_admin": True}, "b": Principal("u")}}
    ):
        assert auth.token_table() == {b"a": Principal("ops", True), b"b": Principal("u")}


def test_the_url_prefix_is_found_by_reversing_the_urls() -> None:
    """Without URL_PREFIX, the prefix is where mediakit_django.urls is included."""
    assert url_prefix() == ""
    with override_settings(MEDIAKIT={"URL_PREFIX": "/media-api/"}):
        assert url_prefix() == "/media-api"


def test_sqlite_without_immediate_transactions_is_warned_about() -> None:
    """The system check warns when SQLite would run DEFERRED write transactions (on
    Django < 5.1, which cannot make them IMMEDIATE, about every SQLite database)."""
    import django
    from django.conf import settings

    if django.VERSION >= (5, 1):
        assert checks.check_database() == []
    else:
        (old,) = checks.check_database()
        assert old.id == "mediakit_django.W001"
        assert "PostgreSQL" in str(old.hint)
    settings.DATABASES["plain"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.db"}
    try:
        with override_settings(MEDIAKIT={"DATABASE_ALIAS": "plain"}):
            (warning,) = checks.check_database()
    finally:
        del settings.DATABASES["plain"]
    assert warning.id == "mediakit_django.W001"


def test_an_unknown_database_alias_is_an_error() -> None:
    """DATABASE_ALIAS must name a configured database."""
    with override_settings(MEDIAKIT={"DATABASE_ALIAS": "nope"}):
        (error,) = checks.check_database()
    assert error.id == "mediakit_django.E001"


def test_an_asgi_project_with_sync_views_is_warned_about() -> None:
    """ASGI_APPLICATION with sync views would serialise requests: W002 says so."""
    with override_settings(ASGI_APPLICATION="x.asgi.application"):
        (warning,) = checks.check_view_mode()
        assert warning.id == "mediakit_django.W002"
        with override_settings(MEDIAKIT={"ASYNC_VIEWS": True}):
            assert checks.check_view_mode() == []
    assert checks.check_view_mode() == []
