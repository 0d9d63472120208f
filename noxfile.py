"""The single entry point for checks: ``nox -s tests lint typecheck docs build`` (the
defaults), plus ``unasync``, ``installs``, ``coverage``, ``wheel``, ``bench``, ``demo`` and
``soak``.

``tests`` and ``installs`` run on every supported Python found here (``nox -p 3.12 -s
tests`` picks one); interpreters that pyenv holds but does not put on ``PATH`` are found too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs", "build"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"  # uv when installed: much faster installs
PY = ["3.11", "3.12", "3.13"]
TYPED = ["src", "adapters"]


def _runs(command: str) -> bool:
    found = shutil.which(command)  # pyenv's shims exist even where they refuse to run
    return (
        found is not None and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0
    )


def _put_pyenv_pythons_on_path() -> None:
    """Make ``python3.X`` of every pyenv-installed version findable by nox.

    Only interpreters on this machine: uv must not download one (``UV_PYTHON_DOWNLOADS``).
    """
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in PY:
        if _runs(f"python{version}"):
            continue
        found = sorted(versions.glob(f"{version}.*/bin/python{version}"))
        if found:
            os.environ["PATH"] = f"{found[-1].parent}{os.pathsep}{os.environ['PATH']}"


_put_pyenv_pythons_on_path()


@nox.session(python=PY)
def tests(session: nox.Session) -> None:
    """The whole test suite (servers are started by the tests)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PY)
def installs(session: nox.Session) -> None:
    """The wheel in a clean virtualenv per install set (core, [fastapi], [django], [all]).

    Builds the wheel once, runs the sets in parallel, each with its own smoke run from
    outside the source tree and ``mypy --strict`` over a typed user app per adapter
    (``tests/release/installs.py``). ``-- --sets django`` runs one set.
    """
    session.install("moto[server]>=5.0", "uv>=0.4", "build>=1.2")
    session.run("python", "tests/release/installs.py", *session.posargs)


@nox.session(python=PY[0])
def coverage(session: nox.Session) -> None:
    """The whole suite with branch coverage of mediakit and its adapters (terminal + XML)."""
    session.install("-e", ".[dev]")
    session.run(
        "pytest",
        "--cov",
        "--cov-branch",
        "--cov-report=term-missing:skip-covered",
        "--cov-report=xml:.nox/coverage.xml",  # for CI annotations; .nox/ is ignored by git
        *session.posargs,
    )


@nox.session(python=PY[0])
def lint(session: nox.Session) -> None:
    """ruff check + format check."""
    session.install("ruff")
    paths = ["src", "adapters", "tests", "benchmarks", "examples", "scripts", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("python", "scripts/unasync.py", "--check")


@nox.session(python=PY[0])
def unasync(session: nox.Session) -> None:
    """Regenerate the sync twins from their async sources (``-- --check``: only compare)."""
    session.install("ruff")
    session.run("python", "scripts/unasync.py", *session.posargs)


@nox.session(python=PY[0])
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/ and adapters/."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", *TYPED)


@nox.session(python=PY[0])
def docs(session: nox.Session) -> None:
    """mkdocs build --strict."""
    session.install("-e", ".[dev]")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session(python=PY[0])
def build(session: nox.Session) -> None:
    """sdist + wheel, metadata checked with twine."""
    session.install("build", "twine")
    session.run("rm", "-rf", "dist", external=True)
    session.run("python", "-m", "build")
    session.run("twine", "check", "--strict", "dist/*")


@nox.session(python=PY[0])
def wheel(session: nox.Session) -> None:
    """The whole test suite against the built wheel installed in a clean virtualenv.

    The tests run from a copy outside the source tree, so ``src/`` and ``adapters/`` are
    not importable: the installed package is what is tested. ``-- ARGS`` go to pytest.
    """
    import glob
    import shutil
    import tempfile

    session.install("build")
    session.run("rm", "-rf", "dist", external=True)
    session.run("python", "-m", "build", "--wheel")
    (wheel_file,) = glob.glob("dist/mediakit-*.whl")
    session.install(f"{wheel_file}[all,docs]")
    # a reused virtualenv already has "mediakit 0.1.0": replace it with this very wheel
    session.install("--force-reinstall", "--no-deps", wheel_file)
    # the test-only tools from the dev extra, without installing mediakit from source
    session.install(
        "pytest>=8",
        "pytest-timeout>=2.3",
        "pytest-xdist>=3.5",  # pyproject's addopts has -n auto
        "hypothesis>=6.100",
        "moto[server]>=5.0",
        "nanio>=0.1.7",
        "httpx>=0.27",
        "playwright>=1.45",
        "pyvips[binary]>=2.2",
    )
    work = tempfile.mkdtemp(prefix="mediakit-wheel-")
    for part in ("tests", "examples", "docs", "scripts", "benchmarks", ".ci"):
        shutil.copytree(part, f"{work}/{part}")
    for name in ("pyproject.toml", "README.md", "mkdocs.yml", "CHANGELOG.md", "LICENSE"):
        shutil.copy(name, work)
    session.chdir(work)
    session.run(
        "python",
        "-c",
        "import mediakit, sys; assert '/site-packages/' in mediakit.__file__, mediakit.__file__; "
        "print('testing', mediakit.__file__)",
    )
    # tests/release builds wheels from a source tree; this copy has none (on purpose)
    session.run("pytest", "-p", "no:cacheprovider", "--ignore=tests/release", *session.posargs)


@nox.session(python=PY[0])
def bench(session: nox.Session) -> None:
    """Benchmarks against their anchors (about 12 minutes); ``-- NAME`` runs one.

    Each run writes ``benchmarks/results/<time>.json``; after two full runs
    ``python -m benchmarks.report`` rewrites docs/benchmarks.md and its charts from them.
    """
    session.install("-e", ".[dev]")
    session.install("pyvips")  # optional anchor for the thumbnail benchmark
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PY[0])
def soak(session: nox.Session) -> None:
    """The long soak test: 5 minutes of mixed load per reference server on S3 (the normal
    suite runs 20 s). ``MEDIAKIT_SOAK_SECONDS`` overrides the duration; the figures are
    appended to ``soak-report.jsonl``."""
    session.install("-e", ".[dev]")
    env = {
        "MEDIAKIT_SOAK_SECONDS": session.env.get("MEDIAKIT_SOAK_SECONDS", "300"),
        "MEDIAKIT_SOAK_REPORT": "soak-report.jsonl",
    }
    session.run("pytest", "-s", "-p", "no:cacheprovider", "tests/soak", *session.posargs, env=env)


@nox.session(python=PY[0])
def demo(session: nox.Session) -> None:
    """Run the FastAPI reference server on embedded defaults."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "examples.fastapi_server", *session.posargs)
