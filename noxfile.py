"""The single entry point for checks: ``nox -s tests lint typecheck docs build wheel bench demo soak``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs", "build"]  # + wheel, bench, demo, soak
nox.options.reuse_existing_virtualenvs = True
PY = ["3.11", "3.12", "3.13"]
TYPED = ["src", "adapters"]


@nox.session(python=PY[0])
def tests(session: nox.Session) -> None:
    """The whole test suite (servers are started by the tests)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PY[0])
def lint(session: nox.Session) -> None:
    """ruff check + format check."""
    session.install("ruff")
    paths = ["src", "adapters", "tests", "benchmarks", "examples", "scripts", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


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
    """The full test suite against the built wheel installed in a clean virtualenv.

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
    """Benchmarks against their anchors; writes docs/benchmarks.md. ``-- NAME`` runs one."""
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
