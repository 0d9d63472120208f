"""The documentation stays true: every setting is documented, the README's lines are the ones CI runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import attrs

from mediakit.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_lists_every_setting_and_is_current() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for field in attrs.fields(Settings):
        assert f"`{field.metadata['env']}`" in page, field.metadata["env"]
    r = subprocess.run([sys.executable, "scripts/gen_config_docs.py", "--check"], cwd=ROOT)
    assert r.returncode == 0, (
        "docs/configuration.md is stale: run python scripts/gen_config_docs.py"
    )


def test_readme_quickstart_has_the_two_lines_and_ci_runs_the_test_line() -> None:
    readme = (ROOT / "README.md").read_text()
    lines = re.findall(r"^    (python3 -m venv .*)$", readme, re.M)
    assert len(lines) == 2, lines
    server, tests = lines
    assert "examples.fastapi_server" in server
    assert "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci
    assert 'bash -c "$TEST_LINE"' in ci
