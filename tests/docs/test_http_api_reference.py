"""docs/reference/http-api.md cannot drift from the adapters.

The page's ``### METHOD /path`` sections are compared with the FastAPI adapter's OpenAPI
document (every operation, its query parameters and its statuses) and with the Django URL
table (every documented route answers there, with the documented methods and no others),
and its error table with the error codes the code can produce.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediakit import Settings
from mediakit.repositories import MemoryRepositories
from mediakit.service import MediaKit, build_service

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "http-api.md"
_HEADING = re.compile(r"^### (GET|POST|PUT|DELETE|HEAD|PATCH) (/\S+)$", re.M)
_ERROR_ROW = re.compile(r"^\| (\d{3}) \| (.+) \|$", re.M)
_CODE_IN_SOURCE = (
    re.compile(r"""\bcode\s*=\s*["']([a-z]+(?:_[a-z]+)*)["']"""),
    re.compile(r"""error_response\(\s*\d{3},\s*["']([a-z]+(?:_[a-z]+)*)["']"""),
    re.compile(r"""\b\d{3}:\s*["']([a-z]+(?:_[a-z]+)*)["']"""),
)
IGNORED_PATHS = {"/healthz"}  # the reference server's own route, not the adapter's


def sections() -> dict[tuple[str, str], str]:
    """``(METHOD, path)`` -> the text of that section (up to the next heading)."""
    text = PAGE.read_text()
    found: dict[tuple[str, str], str] = {}
    heads = list(_HEADING.finditer(text))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[m.end() : end].split("\n## ", 1)[0]
        found[(m.group(1), m.group(2))] = body
    return found


def _body_of(ops: dict[tuple[str, str], str], method: str, path: str) -> str:
    body = ops[(method, path)]
    if method == "HEAD" and "As `GET`" in body:
        return ops[("GET", path)]
    return body


@pytest.fixture(scope="module")
def kit() -> Iterator[MediaKit]:
    built = build_service(
        Settings(storage_backend="memory", job_runner="inline", signing_secret="s" * 32),
        repos=MemoryRepositories.create(),
    )
    yield built
    built.close()


@pytest.fixture(scope="module")
def openapi(kit: MediaKit) -> dict[str, Any]:
    from fastapi import FastAPI

    from mediakit_fastapi import create_router

    app = FastAPI()
    app.include_router(create_router(kit, get_principal=lambda: None))
    return app.openapi()


def test_the_page_lists_every_endpoint() -> None:
    ops = sections()
    assert len(ops) >= 20
    assert ("GET", "/api/v1/user/media/{media_id}/stream") in ops


def test_every_fastapi_operation_is_documented_and_nothing_else(openapi: dict[str, Any]) -> None:
    served = {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        if path not in IGNORED_PATHS
        for method in item
    }
    assert served == set(sections()), (
        f"undocumented: {sorted(served - set(sections()))}; "
        f"documented but not served: {sorted(set(sections()) - served)}"
    )


def test_every_query_parameter_and_status_is_documented(openapi: dict[str, Any]) -> None:
    ops = sections()
    missing: list[str] = []
    for path, item in openapi["paths"].items():
        if path in IGNORED_PATHS:
            continue
        for method, op in item.items():
            body = _body_of(ops, method.upper(), path)
            for param in op.get("parameters", []):
                if param["in"] == "query" and f"`{param['name']}`" not in body:
                    missing.append(f"{method.upper()} {path}: query `{param['name']}`")
            for status in op["responses"]:
                if f"**{status}**" not in body:
                    missing.append(f"{method.upper()} {path}: status {status}")
    assert not missing, "\n".join(missing)


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "abc123", path).lstrip("/")


def test_every_documented_route_answers_on_django_with_exactly_its_methods() -> None:
    from tests.django.support import ensure_django

    ensure_django()
    from django.test import Client
    from django.urls import resolve

    client = Client(raise_request_exception=False)
    by_path: dict[str, set[str]] = {}
    for method, path in sections():
        by_path.setdefault(path, set()).add(method)
    # Django routes `images/upload` through `images/<id>` (and `tracks/order` through
    # `tracks/<id>`): a method documented on either is served by that one view.
    by_view: dict[str, set[str]] = {}
    for path, methods in by_path.items():
        by_view.setdefault(resolve("/" + _concrete(path)).url_name or "", set()).update(methods)
    wrong: list[str] = []
    for path, methods in by_path.items():
        url = "/" + _concrete(path)
        for method in ("GET", "POST", "PUT", "DELETE", "HEAD"):
            r = client.generic(method, url)
            if method in methods:
                # routed (auth or signature checked), not the API's 404 fallback or a 405
                if r.status_code in (404, 405) and r.get("Content-Type", "").startswith(
                    "application/json"
                ):
                    code = r.json()["error"]["code"] if method != "HEAD" else r.status_code
                    wrong.append(f"{method} {path}: {r.status_code} {code}")
            elif r.status_code != 405 and method not in by_view[resolve(url).url_name or ""]:
                wrong.append(f"{method} {path}: answered {r.status_code}, not documented")
    assert not wrong, "\n".join(wrong)


def test_every_django_route_is_documented() -> None:
    from tests.django.support import ensure_django

    ensure_django()
    from django.urls import URLPattern, URLResolver, get_resolver

    documented = [
        re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(p.lstrip("/"))) + "$")
        for _, p in sections()
    ]

    def routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace in {"admin"}:
                    continue
                yield from routes(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name != "not-found":
                yield prefix + str(p.pattern)

    undocumented = []
    for route in routes(get_resolver().url_patterns):
        if route.startswith("async/"):
            route = route.removeprefix("async/")
        sample = re.sub(r"<(?:\w+:)?\w+>", "abc123", route)
        if not any(d.match(sample) for d in documented):
            undocumented.append(route)
    assert not undocumented, f"Django routes missing from the page: {undocumented}"


def _codes_in_source() -> set[str]:
    codes: set[str] = set()
    for base in ("src", "adapters"):
        for file in (ROOT / base).rglob("*.py"):
            # Django form validation codes (admin forms) are not API error codes
            text = "\n".join(
                line for line in file.read_text().splitlines() if "ValidationError" not in line
            )
            for pattern in _CODE_IN_SOURCE:
                codes.update(pattern.findall(text))
    return codes


def _codes_on_page() -> dict[str, int]:
    table: dict[str, int] = {}
    for status, cell in _ERROR_ROW.findall(PAGE.read_text()):
        for code in re.findall(r"`([a-z_]+)`", cell):
            table[code] = int(status)
    return table


def test_the_error_table_lists_every_code_with_its_status() -> None:
    import mediakit.errors as errors

    page = _codes_on_page()
    missing = _codes_in_source() - set(page)
    assert not missing, f"error codes missing from the page: {sorted(missing)}"
    for cls in vars(errors).values():
        if (
            isinstance(cls, type)
            and issubclass(cls, errors.MediaKitError)
            and cls.code in page
            and cls is not errors.ConfigurationError
        ):
            assert page[cls.code] == cls.http_status, cls


def test_the_error_table_lists_no_stale_code() -> None:
    stale = set(_codes_on_page()) - _codes_in_source()
    assert not stale, f"codes on the page that nothing produces: {sorted(stale)}"
