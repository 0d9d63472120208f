"""Lazy re-exports for package ``__init__`` modules.

A package that re-exports I/O shells (boto3 stores, SQLAlchemy repositories, Pillow
processing) loads them on first attribute access, so importing the pure core never pulls
in an I/O library (a test and an import-linter contract check it). Type checkers see the
real imports under ``TYPE_CHECKING`` in each package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], eager: MutableMapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name in ``exports`` is loaded from
    the module it maps to on first access and then kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        eager[name] = value  # the package's globals(): the next access is a plain lookup
        return value

    def __dir__() -> list[str]:
        return sorted({*eager, *exports})

    return __getattr__, __dir__
