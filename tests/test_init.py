"""`snowtower init` on a team's existing SnowDDL repository: the config folder found as SnowDDL would read
it, workflows that install the pinned release and name that folder (and lint clean), the issue form and
settings; locally written into the working tree, on GitHub opened as one pull request (resumed, never
doubled)."""
from __future__ import annotations

import re

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app import repo_init
from app.paths import EXAMPLE_CONFIG
from portal.cli import main as snowtower
from test_workflows import lint

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"  # shared/ sits beside the clone


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def team_repo(tmp_path) -> Path:
    """A team's repository: its config in infra/snowflake, base branch `master`, other files around it."""
    repo = tmp_path / "team"
    shutil.copytree(EXAMPLE_CONFIG, repo / "infra" / "snowflake")
    (repo / "docs").mkdir()
    (repo / "docs" / "README.md").write_text("# our Snowflake\n")
    (repo / "scripts").mkdir()
    (repo / "scripts" / "user.txt").write_text("not SnowDDL\n")
    git(repo.parent, "init", "-q", "-b", "master", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "our config")
    return repo


def test_init_writes_workflows_for_the_repository_s_folder_branch_and_pinned_release(team_repo, capsys):
    assert snowtower(["init", str(team_repo), "--pin", "1.2.3"]) == 0
    out = capsys.readouterr().out
    assert "SnowDDL config folder: infra/snowflake; base branch: master" in out
    workflows = sorted((team_repo / ".github" / "workflows").glob("*.yml"))
    assert {p.name for p in workflows} == {"pr-validation.yml", "merge-deploy.yml", "drift-check.yml",
                                          "process-access-request.yml", "expire.yml"}  # not SnowTower's own CI
    for path in workflows:
        text = path.read_text()
        assert "requirements.lock" not in text and "-e ." not in text and "./tool" not in text, path.name
        assert "pip install --disable-pip-version-check snowtower==1.2.3" in text, path.name
        assert 'SNOWTOWER_CONFIG_DIR: "infra/snowflake"' in text and 'SNOWTOWER_BASE_BRANCH: "master"' in text
        assert "snowddl/" not in text.replace("infra/snowflake/", ""), path.name
    deploy_text = (team_repo / ".github" / "workflows" / "merge-deploy.yml").read_text()
    deploy = yaml.safe_load(deploy_text)
    assert deploy[True]["push"] == {"branches": ["master"], "paths": ["infra/snowflake/**"]}
    steps = [s.get("run", "") for s in deploy["jobs"]["deploy"]["steps"]]
    assert "snowtower validate infra/snowflake" in steps
    assert any('snowtower deploy --sha "$GITHUB_SHA" --branch "$DEFAULT_BRANCH" --config infra/snowflake' in s
               for s in steps)  # the deployment reads the team's folder and its default branch, never "main"
    assert not re.search(r"\bmain\b", "".join(line.split("#")[0] for line in deploy_text.splitlines())), deploy_text
    validation = (team_repo / ".github" / "workflows" / "pr-validation.yml").read_text()
    assert "snowtower plan --base tool/infra/snowflake --head pr/infra/snowflake" in validation
    for path in workflows:  # one file per run, as tests/test_workflows.py lints them
        result = lint([path])
        assert result.returncode == 0, path.name + result.stdout + result.stderr
    assert (team_repo / ".github" / "ISSUE_TEMPLATE" / "access-request.yml").read_text() == \
        (ROOT / ".github" / "ISSUE_TEMPLATE" / "access-request.yml").read_text()
    settings = (team_repo / "snowtower.toml").read_text()
    assert 'config_dir = "infra/snowflake"' in settings and 'base_branch = "master"' in settings
    assert 'backend = "local"' in settings and f'config_repo = "{team_repo}"' in settings


def test_init_on_a_feature_branch_still_targets_the_base_branch(team_repo):
    git(team_repo, "checkout", "-q", "-b", "add-snowtower")
    plan = repo_init.init_local(team_repo, "1.2.3")
    assert plan.base_branch == "master" and "branches: [master]" in plan.files[".github/workflows/merge-deploy.yml"]


def test_a_second_init_changes_nothing_and_a_changed_file_is_kept_unless_forced(team_repo, capsys):
    assert snowtower(["init", str(team_repo)]) == 0
    capsys.readouterr()
    assert snowtower(["init", str(team_repo)]) == 0
    assert "Nothing to change" in capsys.readouterr().out
    ours = team_repo / ".github" / "workflows" / "expire.yml"
    ours.write_text(ours.read_text() + "# our own tweak\n")
    before = {p: p.read_text() for p in (team_repo / ".github").rglob("*.yml")}
    assert snowtower(["init", str(team_repo), "--pin", "9.9.9"]) == 1
    err = capsys.readouterr().err
    assert "expire.yml" in err and "--force" in err and "Nothing was written" in err
    assert {p: p.read_text() for p in (team_repo / ".github").rglob("*.yml")} == before
    assert snowtower(["init", str(team_repo), "--pin", "9.9.9", "--force"]) == 0
    assert "our own tweak" not in ours.read_text() and "snowtower==9.9.9" in ours.read_text()


def test_the_config_folder_is_found_as_snowddl_reads_it(tmp_path):
    yml = tmp_path / "yml"
    shutil.copytree(CASES / "05-issue243-yml-extension" / "config", yml / "snowflake")  # .yml files
    assert repo_init.find_config_dirs(yml) == ["snowflake"]
    databases_only = tmp_path / "db"
    shutil.copytree(EXAMPLE_CONFIG / "ANALYTICS", databases_only / "config" / "ANALYTICS")
    assert repo_init.find_config_dirs(databases_only) == ["config"]  # database folders, no root file
    at_root = tmp_path / "root"
    shutil.copytree(EXAMPLE_CONFIG, at_root)
    assert repo_init.find_config_dirs(at_root) == [""]
    for given in (None, ".", ""):  # SnowDDL would read .git and .github there as databases
        with pytest.raises(repo_init.InitError, match="repository's root.*move it into a folder"):
            repo_init.choose_config_dir(at_root, given)
    two = tmp_path / "two"
    shutil.copytree(EXAMPLE_CONFIG, two / "prod")
    shutil.copytree(EXAMPLE_CONFIG, two / "dev")
    with pytest.raises(repo_init.InitError, match="several folders.*dev, prod.*--config-dir"):
        repo_init.choose_config_dir(two, None)
    assert repo_init.choose_config_dir(two, "prod") == "prod"
    (tmp_path / "none" / "src").mkdir(parents=True)
    (tmp_path / "none" / "src" / "users.yaml").write_text("a: 1\n")
    with pytest.raises(repo_init.InitError, match="no SnowDDL config found"):
        repo_init.choose_config_dir(tmp_path / "none", None)
    for bad in ("../team", "/etc", "a b", "docs"):
        with pytest.raises(repo_init.InitError, match="--config-dir"):
            repo_init.choose_config_dir(two, bad)


def test_a_config_at_the_repository_root_renders_paths_without_a_folder():
    text = (ROOT / ".github" / "workflows" / "merge-deploy.yml").read_text()
    out = repo_init.render_workflow("merge-deploy.yml", text, "", "main", "1.0.0")
    assert 'paths: ["**"]' in out and "snowtower validate ." in out and "--config . " not in out
    assert 'snowtower deploy --sha "$GITHUB_SHA" --branch "$DEFAULT_BRANCH" --config .' in out


def test_a_template_that_installs_snowtower_another_way_is_refused():
    text = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pip install ./snowtower-src\n" \
           "      - run: snowtower validate snowddl\n"
    with pytest.raises(repo_init.InitError, match="without an install step"):
        repo_init.render_workflow("odd.yml", text, "cfg", "main", "1.0.0")


def test_github_targets_are_told_from_folders():
    assert repo_init.github_target("acme/snowflake-infra") == ("acme/snowflake-infra", "https://api.github.com")
    assert repo_init.github_target("https://github.com/acme/infra.git") == ("acme/infra", "https://api.github.com")
    assert repo_init.github_target("git@github.example.com:acme/infra.git") == ("acme/infra", "https://github.example.com/api/v3")
    assert repo_init.github_target("https://github.example.com/acme/infra") == ("acme/infra", "https://github.example.com/api/v3")
    assert repo_init.github_target("not a repo") == ("", "")
    assert repo_init.github_target("../team", short=False) == ("", "")  # a clone's origin that is a folder


def test_version_is_the_installed_distribution_s(capsys):
    from importlib import metadata

    assert snowtower(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"snowtower {metadata.version('snowtower')}"


# -- on GitHub: the test server (tests/github_server.py), through real PyGithub -----------------------------
from tests.github_support import BOT_TOKEN, github, github_template  # noqa: E402,F401 (fixtures)


def init_on(server, **kw):
    return repo_init.init_github(server.full_name, server.base_url, BOT_TOKEN, "1.2.3", timeout=10,
                                 seconds_between_writes=0, **kw)


def test_init_on_github_opens_one_pull_request_with_every_file(github):
    main = github.git.branch_head("main")
    result = init_on(github)
    assert isinstance(result, repo_init.PullResult) and not result.resumed
    pr = github.pulls[result.number]
    assert (pr.head, pr.base, pr.state, pr.author) == ("snowtower/init", "main", "open", "snowtower-bot")
    assert "`snowddl`" in pr.body and "snowtower==1.2.3" in pr.body
    assert github.git.branch_head("main") == main  # main itself is untouched: merging the pull request sets it up
    deploy = github.read("snowtower/init", ".github/workflows/merge-deploy.yml")
    assert "pip install --disable-pip-version-check snowtower==1.2.3" in deploy and "requirements.lock" not in deploy
    assert 'paths: ["snowddl/**"]' in deploy
    settings = github.read("snowtower/init", "snowtower.toml")
    assert f'github_repository = "{github.full_name}"' in settings and 'backend = "github"' in settings
    assert github.read("snowtower/init", ".github/ISSUE_TEMPLATE/access-request.yml")
    # A second run finds the open pull request: nothing new.
    again = init_on(github)
    assert again.resumed and again.number == result.number and len(github.pulls) == 1


def test_init_on_github_after_a_crash_between_branch_and_pull_request_reuses_the_branch(github):
    main = github.git.branch_head("main")
    stale = github.git.commit_files(main, {"leftover.txt": "half\n"}, "an earlier, interrupted init\n", ("t", "t@x"))
    github.git.update_ref("refs/heads/snowtower/init", stale, None)  # the branch of a run that died before its PR
    result = init_on(github)
    assert not result.resumed and len(github.pulls) == 1
    head = github.git.branch_head("snowtower/init")
    assert head != stale and github.read("snowtower/init", "snowtower.toml")
    files = github.git.git("ls-tree", "-r", "--name-only", head).split()
    assert "leftover.txt" not in files  # the branch now holds this run's commit on main, nothing of the old one


def test_init_on_github_without_a_token_or_a_config_writes_nothing(github):
    with pytest.raises(repo_init.InitError, match="SNOWTOWER_GITHUB_TOKEN"):
        repo_init.init_github(github.full_name, github.base_url, "", "1.2.3")
    with pytest.raises(repo_init.InitError, match="no SnowDDL config found|--config-dir"):
        init_on(github, config_dir="docs")
    assert not github.pulls and github.git.branch_head("snowtower/init") is None


# -- a team's workspace starts from its repository (--from / config_repo), the demo from the example ------------
def production_settings(ws: Path, **extra: str) -> None:
    ws.mkdir(parents=True, exist_ok=True)
    lines = ["[snowtower]", 'mode = "production"', 'base_branch = "master"', 'config_dir = "infra/snowflake"']
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    (ws / "settings.toml").write_text("\n".join(lines) + "\n")


def test_a_production_workspace_is_cloned_from_config_repo(team_repo, tmp_path):
    from app.services import build_services
    from app.settings import load_settings

    ws = tmp_path / "ws"
    production_settings(ws, config_repo=str(team_repo))
    services = build_services(load_settings(ws))
    head = git(team_repo, "rev-parse", "master")
    assert services.changes.base_head() == head  # the team's history, not the example's first commit
    assert (services.changes.config_at(head) / "user.yaml").read_text() == (team_repo / "infra/snowflake/user.yaml").read_text()


def test_a_bad_config_repo_names_the_setting_and_creates_no_repository(team_repo, tmp_path):
    from app.services import build_services
    from app.settings import SettingsError, load_settings

    for source, why in ((tmp_path / "nowhere", "git clone"), (team_repo, "no folder snowddl")):
        ws = tmp_path / f"ws-{why.replace(' ', '-')}"
        production_settings(ws, config_repo=str(source))
        text = (ws / "settings.toml").read_text()
        if why.startswith("no folder"):
            (ws / "settings.toml").write_text(text.replace('config_dir = "infra/snowflake"', 'config_dir = "snowddl"'))
        with pytest.raises(SettingsError, match=f"config_repo: .*{why}"):
            build_services(load_settings(ws))
        assert not (ws / "repo.git").exists() and not list(ws.glob(".clone-*"))


def test_serve_of_a_new_production_workspace_needs_from(team_repo, tmp_path, capsys, monkeypatch):
    import portal.cli as cli

    ws = tmp_path / "ws"
    production_settings(ws)
    assert cli.main(["serve", "--workspace", str(ws)]) == 2
    assert "--from PATH|URL" in capsys.readouterr().err and not (ws / "repo.git").exists()
    assert cli.main(["serve", "--workspace", str(ws), "--from", str(tmp_path / "nowhere")]) == 2
    assert "git clone" in capsys.readouterr().err and not (ws / "repo.git").exists()
    served = []
    monkeypatch.setattr(cli, "_serve", lambda workspace, port, address, settings=None: served.append(workspace) or 0)
    assert cli.main(["serve", "--workspace", str(ws), "--from", str(team_repo)]) == 0
    assert served == [ws.resolve()]
    assert git(ws / "repo.git", "rev-parse", "master") == git(team_repo, "rev-parse", "master")
    assert cli.main(["serve", "--workspace", str(ws), "--from", str(team_repo)]) == 2  # never over an existing one
    assert "exists already" in capsys.readouterr().err


def test_a_clone_of_a_github_repository_gets_github_settings(team_repo):
    git(team_repo, "remote", "add", "origin", "https://github.example.com/acme/infra.git")
    plan = repo_init.init_local(team_repo, "1.2.3")
    settings = plan.files["snowtower.toml"]
    assert 'backend = "github"' in settings and 'github_repository = "acme/infra"' in settings
    assert 'github_base_url = "https://github.example.com/api/v3"' in settings and "config_repo" not in settings


def test_serve_clones_config_repo_before_serving(team_repo, tmp_path, monkeypatch):
    import portal.cli as cli

    ws = tmp_path / "ws"
    production_settings(ws, config_repo=str(team_repo))
    monkeypatch.setattr(cli, "_serve", lambda workspace, port, address, settings=None: 0)
    assert cli.main(["serve", "--workspace", str(ws)]) == 0
    assert git(ws / "repo.git", "rev-parse", "master") == git(team_repo, "rev-parse", "master")
    assert cli.main(["serve", "--workspace", str(ws)]) == 0  # later starts reuse it


def test_the_settings_file_holds_hostile_paths_and_urls_as_their_text():
    import tomllib

    for value in ('/srv/a "b"\\c', "line\nbreak\x7f\ttab", "äö 😀", "x = 1\n[other]"):
        text = repo_init.settings_text("cfg", "main", config_repo=value)
        assert tomllib.loads(text)["snowtower"]["config_repo"] == value
        text = repo_init.settings_text("cfg", "main", github_repository="acme/infra", github_base_url=value)
        assert tomllib.loads(text)["snowtower"]["github_base_url"] == value

