"""Each install set works from a clean virtualenv: core only, ``[fastapi]``, ``[django]``
(S3 under WSGI and ASGI) and ``[all]``, each smoke-tested from outside the source tree, and
``mypy --strict`` passes on a typed user app per adapter (and rejects a misuse of the typed
values). The same runs as ``nox -s installs``; see ``tests/release/installs.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.release import installs
from tests.servers import need

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(release_wheel: Path) -> dict[str, installs.Result]:
    """Every set, run in parallel once for the module."""
    need(importlib.util.find_spec("moto") is not None, "moto is missing: pip install moto[server]")
    done = installs.run(tuple(installs.SETS), wheel=release_wheel)
    for r in done:
        print(r.summary())
    return {r.name: r for r in done}


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", list(installs.SETS))
def test_install_set_passes_its_smoke_run_from_a_clean_venv(
    results: dict[str, installs.Result], name: str
) -> None:
    result = results[name]
    assert result.ok, "\n\n".join(result.log)[-8000:]
    assert "smoke" in result.steps
    if installs.SETS[name].typed_app:
        assert "mypy" in result.steps


def test_every_adapter_has_a_typed_app_and_a_misuse_file() -> None:
    for spec in installs.SETS.values():
        if spec.name in ("fastapi", "django"):
            assert spec.typed_app is not None
            app = installs.TYPED / spec.typed_app
            assert (app / "misuse.py").is_file()
            assert any(p.name != "misuse.py" for p in app.rglob("*.py"))


def test_the_environment_of_a_smoke_run_cannot_reach_the_source_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/src")
    monkeypatch.setenv("MEDIAKIT_STORAGE", "memory")
    monkeypatch.setenv("MEDIA_S3_ENDPOINT", "http://example.invalid")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "x.settings")
    env = installs.clean_env(EXTRA="1")
    assert not {
        "PYTHONPATH",
        "MEDIAKIT_STORAGE",
        "MEDIA_S3_ENDPOINT",
        "DJANGO_SETTINGS_MODULE",
    } & set(env)
    assert env["EXTRA"] == "1"
