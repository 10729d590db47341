"""The build's checks, run by the suite so CI enforces them (CONTRIBUTING.md, docs/architecture.md):
the import contracts of pyproject.toml's [tool.importlinter] (the layers, Streamlit only in the portal,
operations independent of each other), ruff on its chosen rules and mypy with zero errors in core/ and
app/. Each runs the developer's own command (`./dev lint` runs all three) and shows its output on failure.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_import_contracts_are_kept():
    done = run(str(BIN / "lint-imports"), "--no-logo", "--no-cache")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " 0 broken" in done.stdout


def test_ruff_is_clean():
    done = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_mypy_finds_no_error_in_core_and_app(tmp_path):
    done = run(sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout


@pytest.mark.parametrize("layer", ["core", "app"])
def test_no_module_in_core_or_app_is_over_600_lines(layer):
    """A module that grows past 600 lines holds more than one concern: split it along its seams."""
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / layer).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}


def test_pages_import_no_other_page():
    """A page is a script of the navigation: one page importing another would run it inside the first."""
    for page in sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(page.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n == "pages" or n.startswith("pages.")], page.name
