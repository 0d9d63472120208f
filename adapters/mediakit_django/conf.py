"""The ``MEDIAKIT`` Django setting, mapped onto :class:`mediakit.settings.Settings`.

.. code-block:: python

    MEDIAKIT = {
        # lower-case keys: mediakit.Settings field names (docs/configuration.md)
        "storage_backend": "s3",
        "assets_bucket": "media",
        "max_file_size": 200 * 1024 * 1024,
        # upper-case keys: options of this adapter
        "PRINCIPAL_RESOLVER": "mediakit_django.auth.bearer_or_session_principal",
        "TOKENS": {"s3cr3t": {"id": "ops", "is_admin": True}},
        "ASYNC_VIEWS": False,
    }

Environment variables (``MEDIA_*``, ``MEDIAKIT_*``) still apply; a key in ``MEDIAKIT``
wins over its variable. An unknown key is an :class:`ImproperlyConfigured` naming it,
and so is a bad value. ``database_url`` is ignored by the ORM repositories (the
database is Django's ``DATABASES[DATABASE_ALIAS]``) unless ``REPOSITORIES`` is ``"sql"``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import attrs
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from mediakit.errors import ConfigurationError
from mediakit.settings import Settings

__all__ = ["ADAPTER_DEFAULTS", "SETTINGS_FIELDS", "adapter_options", "mediakit_settings"]

ADAPTER_DEFAULTS: Mapping[str, Any] = {
    "PRINCIPAL_RESOLVER": "mediakit_django.auth.bearer_or_session_principal",
    "TOKENS": {},
    "ASYNC_VIEWS": False,
    "URL_PREFIX": None,
    "DATABASE_ALIAS": "default",
    "REPOSITORIES": "orm",
}
"""Upper-case ``MEDIAKIT`` keys (adapter options) and their defaults.

- ``PRINCIPAL_RESOLVER``: dotted path to ``callable(request) -> Principal | None``.
- ``TOKENS``: bearer token -> ``{"id": str, "is_admin": bool}`` (or a ``Principal``),
  read by :func:`mediakit_django.auth.bearer_token_principal`.
- ``ASYNC_VIEWS``: ``mediakit_django.urls`` mounts async views (ASGI) when true, sync
  views (WSGI) otherwise; ``mediakit_django.urls_sync`` / ``urls_async`` pick explicitly.
- ``URL_PREFIX``: where the urls are included; ``None`` finds out with ``reverse()``.
- ``DATABASE_ALIAS``: the Django database of the ORM repositories.
- ``REPOSITORIES``: ``"orm"`` (Django models) or ``"sql"`` (mediakit's own SQL
  repositories on ``database_url``).
"""

_FIELDS = {f.name for f in attrs.fields(Settings)}
SETTINGS_FIELDS: frozenset[str] = frozenset(_FIELDS)
"""The field names of :class:`mediakit.settings.Settings` (the lower-case keys)."""


def _raw() -> dict[str, Any]:
    raw = getattr(django_settings, "MEDIAKIT", None) or {}
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"settings.MEDIAKIT must be a dict, not {type(raw).__name__}.")
    return dict(raw)


def _unknown(key: str) -> ImproperlyConfigured:
    known = sorted(_FIELDS | set(ADAPTER_DEFAULTS))
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ImproperlyConfigured(
        f"settings.MEDIAKIT has an unknown key {key!r}.{hint} Lower-case keys are "
        f"mediakit.Settings fields (see docs/configuration.md); upper-case keys are "
        f"adapter options: {', '.join(sorted(ADAPTER_DEFAULTS))}."
    )


def adapter_options() -> dict[str, Any]:
    """The adapter options (upper-case keys) with defaults filled in."""
    out = dict(ADAPTER_DEFAULTS)
    for key, value in _raw().items():
        if key in _FIELDS:
            continue
        if key not in ADAPTER_DEFAULTS:
            raise _unknown(key)
        out[key] = value
    if out["REPOSITORIES"] not in ("orm", "sql"):
        raise ImproperlyConfigured(
            f"settings.MEDIAKIT['REPOSITORIES'] must be 'orm' or 'sql', got {out['REPOSITORIES']!r}."
        )
    return out


def mediakit_settings(
    environ: Mapping[str, str] | None = None, *, extra: Mapping[str, Any] | None = None
) -> Settings:
    """``Settings.from_env(environ, **overrides)`` with the lower-case ``MEDIAKIT`` keys,
    then ``extra`` (``Settings`` field names, e.g. a storage's ``OPTIONS``) over them.

    :class:`ImproperlyConfigured` names an unknown key or a bad value.
    """
    overrides: dict[str, Any] = {}
    for key, value in _raw().items():
        if key in _FIELDS:
            overrides[key] = value
        elif key not in ADAPTER_DEFAULTS:
            raise _unknown(key)
    overrides.update(extra or {})
    try:
        return Settings.from_env(environ, **overrides)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"mediakit configuration: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"settings.MEDIAKIT has a bad value: {exc}") from exc
