"""`snowtower init`: set up an existing SnowDDL repository for SnowTower.

It finds the config folder SnowDDL reads, renders SnowTower's workflows and access-request issue form
for that folder and base branch, and writes them with a `snowtower.toml` settings file: into a local
clone's working tree, or, on GitHub, as one commit on a branch `snowtower/init` opened as a pull request.

The templates are SnowTower's own `.github/workflows/*.yml` and `.github/ISSUE_TEMPLATE/*.yml` (bundled
into the wheel by setup.py; read from the checkout when run from one), so a team gets the workflows
SnowTower itself is tested with. Rendering changes exactly three things, each checked so that a
template it does not understand fails loudly instead of writing a workflow that cannot work:
  1. the install step: SnowTower's source next to the config (`pip install -r requirements.lock`,
     `pip install -e .`, `./tool`) becomes `pip install snowtower==VERSION`, the release being run;
  2. the config folder: `snowddl` as a path (`snowddl/**`, `pr/snowddl`, `--head snowddl`, ...) becomes the
     repository's folder; `SNOWTOWER_CONFIG_DIR` is set for the commands that read settings;
  3. the base branch: `branches: [main]` becomes the repository's base branch.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from app.paths import ISSUE_TEMPLATE_DIR, WORKFLOWS_DIR

# The files SnowDDL reads at a config's root (snowddl.parser: parse_single_entity_file and
# parse_multi_entity_file keys, SnowDDL 0.70), as .yaml or .yml in any case (snowddl.parser._scanner).
SNOWDDL_ROOT_FILES = frozenset({"account_params", "account_policy", "business_role", "network_policy", "outbound_share",
                                "permission_model", "placeholder", "resource_monitor", "tech_role", "technical_role",
                                "user", "warehouse"})
SUFFIXES = (".yaml", ".yml")
OWN_WORKFLOWS = frozenset({"ci.yml", "release.yml", "publish-pypi.yml"})  # SnowTower's own test and release runs: not for a config repository
SETTINGS_FILE = "snowtower.toml"
BRANCH = "snowtower/init"
MAX_DEPTH = 4  # folders below the repository's root searched for the config
MAX_FOLDERS = 5_000  # folders looked at, at most: a huge monorepo gets an answer (or --config-dir), not a long wait
SKIPPED = frozenset({"node_modules", "venv", "site-packages", "__pycache__"})
SAFE_DIR = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
SAFE_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*([ab]|rc|\.post|\.dev)?[0-9]*$")


class InitError(ValueError):
    """Nothing was written: the message says why and what to do."""


@dataclass
class InitPlan:
    """What init writes: repository-relative path -> text, and for the report the files it left as they were."""

    config_dir: str
    base_branch: str
    files: dict[str, str]
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # existing files that differ (local: written only with --force)


# -- finding the config folder -------------------------------------------------------------------
def _root_files(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir()
                      if p.is_file() and p.suffix.lower() in SUFFIXES and p.stem.lower() in SNOWDDL_ROOT_FILES)
    except OSError:
        return []


def _has_params(folder: Path) -> bool:
    return any((folder / f"params{s}").is_file() for s in SUFFIXES)


def _database_folders(folder: Path) -> list[str]:
    """Sub-folders laid out as SnowDDL's databases: params.yaml, and a schema folder with its own params.yaml."""
    found = []
    try:
        for db in folder.iterdir():
            if db.is_dir() and not db.name.startswith(("__", ".")) and _has_params(db) and \
                    any(s.is_dir() and _has_params(s) for s in db.iterdir()):
                found.append(db.name)
    except OSError:
        return []
    return sorted(found)


def find_config_dirs(repo: Path) -> list[str]:
    """Repository-relative folders ("" for the root) that look like a SnowDDL config: SnowDDL's root files
    (user.yaml, business_role.yaml, warehouse.yaml, ...) or database folders; the outermost of nested ones."""
    repo = Path(repo)
    found: list[str] = []
    queue, seen = [(repo, 0)], 0
    while queue:
        folder, depth = queue.pop(0)
        seen += 1
        if seen > MAX_FOLDERS:
            break
        rel = folder.relative_to(repo).as_posix()
        rel = "" if rel == "." else rel
        if _root_files(folder) or _database_folders(folder):
            found.append(rel)
            continue  # its database and schema folders are part of it
        if depth >= MAX_DEPTH:
            continue
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            continue
        queue += [(c, depth + 1) for c in children
                  if not c.name.startswith((".", "__")) and c.name not in SKIPPED]
    return found


ROOT_CONFIG = ("the SnowDDL config is at the repository's root, where SnowDDL would read .git and .github as "
               "databases (it reads every folder of its config as one): move it into a folder, e.g. `git mv` the "
               "files into snowddl/, and run init again.")


def choose_config_dir(repo: Path, given: str | None) -> str:
    """The config folder: `given` (checked), or the one folder found. InitError when none or several are
    found, or when it is the repository's root (SnowDDL would read .git and .github as database folders)."""
    rel = _choose(repo, given)
    if not rel:
        raise InitError(ROOT_CONFIG)
    return rel


def _choose(repo: Path, given: str | None) -> str:
    if given is not None:
        rel = given.strip().strip("/")
        rel = "" if rel in ("", ".") else rel
        if rel and (not SAFE_DIR.match(rel) or ".." in rel.split("/")):
            raise InitError(f"--config-dir {given!r}: give a folder inside the repository, as a relative path of "
                            "letters, digits, '.', '_', '-' and '/'.")
        folder = repo / rel
        if not folder.is_dir():
            raise InitError(f"--config-dir {given!r}: no such folder in the repository.")
        if not (_root_files(folder) or _database_folders(folder)):
            raise InitError(f"--config-dir {given!r} holds none of SnowDDL's files (user.yaml, business_role.yaml, "
                            "warehouse.yaml, ... or database folders with params.yaml).")
        return rel
    found = find_config_dirs(repo)
    if not found:
        raise InitError("no SnowDDL config found in the repository (a folder with user.yaml, business_role.yaml, "
                        "warehouse.yaml, ... or database folders with params.yaml); name it with --config-dir.")
    if len(found) > 1:
        raise InitError("several folders look like SnowDDL configs: " + ", ".join(f or "." for f in found)
                        + "; choose one with --config-dir.")
    if found[0] and not SAFE_DIR.match(found[0]):
        raise InitError(f"the config folder {found[0]!r} has characters the workflows cannot quote safely; rename it.")
    return found[0]


# -- rendering -------------------------------------------------------------------------------------
_LOCK_INSTALL = re.compile(r"^\s*python -m pip install\b.*\s-r\s+\S*requirements[\w-]*\.lock\s*$")
_SOURCE_INSTALL = re.compile(r"^(\s*)python -m pip install\b.*\s(-e\s+\.|\./tool|\.)\s*$")
_FOLDER_ARGS = r"(?:-c|--config|--config-dir|--head|--base|validate|hygiene)"


def _config_path(config_dir: str):
    def path(prefix: str = "", rest: str = "") -> str:
        parts = [p for p in (prefix.rstrip("/"), config_dir, rest.lstrip("/")) if p]
        return ("/".join(parts) or ".") + ("/" if rest == "/" and parts else "")
    return path


def render_workflow(name: str, text: str, config_dir: str, base_branch: str, version: str) -> str:
    """One workflow template for a repository whose SnowDDL config is `config_dir` ("" for the root) on
    `base_branch`, installing SnowTower `version`. InitError if the template installs SnowTower in a way
    this does not know (so no workflow is written that would install something else)."""
    path = _config_path(config_dir)
    out, installs = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        if _LOCK_INSTALL.match(body):
            continue  # the release's own requirements come with it
        m = _SOURCE_INSTALL.match(body)
        if m:
            out.append(f"{m.group(1)}python -m pip install --disable-pip-version-check snowtower=={version}\n")
            installs += 1
            continue
        out.append(line)
    text = "".join(out)
    # The config folder as a path: snowddl/..., X/snowddl, or the argument of a folder option.
    text = re.sub(r"(?<![\w./-])((?:[\w.-]+/)*)snowddl(/[^\s\"'\]]*)?(?![\w-])",
                  lambda m: m.group(0) if not (m.group(1) or m.group(2)) else path(m.group(1) or "", m.group(2) or ""),
                  text)
    text = re.sub(rf"(?<![\w-]){_FOLDER_ARGS} snowddl(?![\w/-])", lambda m: m.group(0)[:-len("snowddl")] + path(), text)
    text = re.sub(r"^(\s*branches:\s*)\[main\]", lambda m: f"{m.group(1)}[{base_branch}]", text, flags=re.M)
    if installs:  # the commands that read settings (request --submit, expire) use the repository's folder and branch
        text = _with_env(text, {"SNOWTOWER_CONFIG_DIR": config_dir, "SNOWTOWER_BASE_BRANCH": base_branch})
    left = [w for w in ("requirements.lock", "-e .", "./tool", "--no-deps") if w in text]
    if left:
        raise InitError(f"the workflow template {name} installs SnowTower in a way `snowtower init` does not know "
                        f"({', '.join(left)}): this SnowTower release cannot render it.")
    if "snowtower " in text and not installs:
        raise InitError(f"the workflow template {name} runs snowtower without an install step init can pin.")
    return text


def _with_env(text: str, values: dict[str, str]) -> str:
    """`KEY: "value"` lines in the workflow's top-level env (made before `jobs:` when there is none)."""
    line = "".join(f'  {key}: "{value}"  # written by snowtower init\n' for key, value in values.items())
    m = re.search(r"^env:[ \t]*\n", text, flags=re.M)
    if m:
        return text[:m.end()] + line + text[m.end():]
    m = re.search(r"^jobs:", text, flags=re.M)
    if not m:
        raise InitError("a workflow template without jobs")
    return text[:m.start()] + "env:\n" + line + "\n" + text[m.start():]


def settings_text(config_dir: str, base_branch: str, github_repository: str = "", config_repo: str = "",
                  github_base_url: str = "") -> str:
    """The repository's snowtower.toml: the settings a production workspace for it needs, secrets left out."""
    lines = ["# SnowTower settings for this repository, written by `snowtower init`.",
             "# Copy this file into the portal's workspace as settings.toml (snowtower serve --workspace DIR);",
             "# secrets (GitHub token or App key, cookie and signing keys) go in the environment or",
             "# .streamlit/secrets.toml, never here. docs/settings.md describes every setting.",
             "[snowtower]", 'mode = "production"']
    if github_repository:
        lines += ['backend = "github"', f'github_repository = "{github_repository}"']
        if github_base_url and github_base_url.rstrip("/") != "https://api.github.com":
            lines.append(f'github_base_url = {_toml_string(github_base_url.rstrip("/"))}')
    else:
        lines += ['backend = "local"']
        if config_repo:
            lines.append(f"config_repo = {_toml_string(config_repo)}  # the workspace's repo.git starts as a clone of it")
    lines += [f'base_branch = "{base_branch}"', f'config_dir = "{config_dir}"']
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string of `value`, whatever it holds: JSON's escapes of quotes, backslashes and control
    characters are TOML's; DEL, which JSON leaves as it is, is escaped too."""
    import json

    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def plan_files(repo: Path, config_dir: str, base_branch: str, version: str, *, github_repository: str = "",
               github_base_url: str = "", config_repo: str = "") -> InitPlan:
    """Every file init writes into `repo` (a working tree or an exported commit), compared with what is there."""
    if not SAFE_BRANCH.match(base_branch) or ".." in base_branch:
        raise InitError(f"the base branch {base_branch!r} is not a name the workflows can use.")
    if not VERSION_RE.match(version):
        raise InitError(f"SnowTower's version {version!r} is not a release version (run init from an installed release).")
    wanted: dict[str, str] = {}
    for template in sorted(WORKFLOWS_DIR.glob("*.yml")):
        if template.name not in OWN_WORKFLOWS:
            wanted[f".github/workflows/{template.name}"] = render_workflow(
                template.name, template.read_text(encoding="utf-8"), config_dir, base_branch, version)
    for template in sorted(ISSUE_TEMPLATE_DIR.glob("*.yml")):
        wanted[f".github/ISSUE_TEMPLATE/{template.name}"] = template.read_text(encoding="utf-8")
    wanted[SETTINGS_FILE] = settings_text(config_dir, base_branch, github_repository, config_repo, github_base_url)
    plan = InitPlan(config_dir, base_branch, {})
    for rel, text in wanted.items():
        target = repo / rel
        have = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
        if have == text:
            plan.unchanged.append(rel)
            continue
        if have is not None:
            plan.conflicts.append(rel)
        plan.files[rel] = text
    return plan


# -- local ------------------------------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str | None:
    import subprocess

    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _base_branch(repo: Path) -> str:
    """The branch that holds the deployed config: origin's default branch, else a local main or master
    (not the branch init happens to run on), else the current one."""
    default = (_git(repo, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD") or "").removeprefix("origin/")
    if default:
        return default
    for name in ("main", "master"):
        if _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}") is not None:
            return name
    return _git(repo, "branch", "--show-current") or "main"


def init_local(path: Path, version: str, *, config_dir: str | None = None, base_branch: str | None = None,
               force: bool = False) -> InitPlan:
    """Write the files into the working tree of the repository at `path` (its root when `path` is inside
    a git repository). Existing files that differ are left alone unless `force` (InitError lists them)."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise InitError(f"{path} is not a folder.")
    top = _git(path, "rev-parse", "--show-toplevel")
    repo = Path(top) if top else path
    branch = base_branch or _base_branch(repo)
    chosen = choose_config_dir(repo, config_dir if config_dir is not None
                               else (str(path.relative_to(repo)) if path != repo and
                                     (_root_files(path) or _database_folders(path)) else None))
    remote = _git(repo, "remote", "get-url", "origin") or ""
    github_repository, base_url = github_target(remote, short=False) if remote else ("", "")
    plan = plan_files(repo, chosen, branch, version, github_repository=github_repository, github_base_url=base_url,
                      config_repo="" if github_repository else str(repo))
    if plan.conflicts and not force:
        raise InitError("these files exist and differ from what init writes: " + ", ".join(plan.conflicts)
                        + ". Nothing was written; look at them, then run again with --force to replace them.")
    for rel, text in plan.files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.snowtower-init")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)  # each file whole or not at all
    return plan


# -- GitHub ------------------------------------------------------------------------------------------
_GITHUB_URL = re.compile(r"^(?:https?://(?P<host>[^/\s]+)/|git@(?P<sshhost>[^:\s]+):)(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")
_OWNER_NAME = re.compile(r"^(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)$")


def github_target(target: str, short: bool = True) -> tuple[str, str]:
    """(OWNER/NAME, API base URL) of a GitHub URL (https or ssh; GitHub Enterprise Server: https://HOST/api/v3)
    or, when `short`, of OWNER/NAME; ("", "") when `target` is neither."""
    m = _GITHUB_URL.match(target.strip())
    if m:
        host = (m.group("host") or m.group("sshhost") or "").lower()
        api = "https://api.github.com" if host in ("github.com", "www.github.com") else f"https://{host}/api/v3"
        return f"{m.group('owner')}/{m.group('name')}", api
    m = _OWNER_NAME.match(target.strip()) if short else None
    if m and ".." not in m.groups() and not Path(target).exists():
        return f"{m.group('owner')}/{m.group('name')}", "https://api.github.com"
    return "", ""


@dataclass
class PullResult:
    number: int
    url: str
    resumed: bool  # an open pull request of an earlier run, left as it was
    plan: InitPlan


def init_github(repository: str, base_url: str, token: str, version: str, *, config_dir: str | None = None,
                base_branch: str | None = None, timeout: int = 15, seconds_between_writes: float = 0.25) -> PullResult | InitPlan:
    """Open one pull request on `repository` with every file init writes (an InitPlan without files when
    the repository already has them all). A second run finds the open pull request and changes nothing; a
    run after a crash between branch and pull request reuses the branch. Raises InitError, or ChangeError
    when GitHub refuses or cannot be reached."""
    from core.changes.github import GitHubChanges, GitHubConfig, connect
    from core.changes.model import Actor

    if not token:
        raise InitError("opening the pull request needs a GitHub token with contents and pull requests write on "
                        f"{repository}: set SNOWTOWER_GITHUB_TOKEN (or GITHUB_TOKEN).")
    cfg = GitHubConfig(repository, base_url=base_url or "https://api.github.com", token=token, timeout=timeout,
                       seconds_between_writes=seconds_between_writes)
    scratch = Path(tempfile.mkdtemp(prefix="snowtower-init-"))
    try:
        # config_dir "": the backend's paths are the repository's own; no request record is ever signed here.
        gh = GitHubChanges(connect(cfg), cfg, scratch, base_branch or "main", "", signing_key=secrets.token_bytes(32))
        if not base_branch:
            gh.base_branch = gh._call("reading the repository", lambda: gh.gh_repo.default_branch)
        existing = gh._find_open_pull(BRANCH)
        if existing is not None:
            return PullResult(existing.number, existing.html_url, True, InitPlan("", gh.base_branch, {}))
        base = gh.base_head()
        tree = gh.config_at(base)  # the whole repository at the base branch's head
        plan = plan_files(tree, choose_config_dir(tree, config_dir), gh.base_branch, version,
                          github_repository=repository, github_base_url=cfg.base_url)
        if not plan.files:
            return plan
        actor = Actor("snowtower-init", "SnowTower init", "snowtower-init@users.noreply.github.com")
        message = (f"Set up SnowTower {version} for {plan.config_dir or 'the root'}\n\n"
                   "Workflows, access-request issue form and settings written by `snowtower init`.\n")
        files: dict[str, str | None] = {**plan.files}
        commit = gh._commit(base, files, message, actor)
        gh._create_branch(BRANCH, commit)  # an existing branch without a pull request (a crash) is moved here
        pr = gh._call("opening the pull request", lambda: gh._create_pull(
            f"Set up SnowTower {version}", BRANCH, pull_body(plan, version)))
        return PullResult(pr.number, pr.html_url, False, plan)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def pull_body(plan: InitPlan, version: str) -> str:
    lines = [f"`snowtower init` (SnowTower {version}) sets this repository up for SnowTower.", "",
             f"- SnowDDL config folder: `{plan.config_dir or '.'}`; base branch: `{plan.base_branch}`",
             f"- the workflows install `snowtower=={version}` from the package index", "", "Files:"]
    lines += [f"- `{rel}`" + (" (replaces the existing file)" if rel in plan.conflicts else "") for rel in plan.files]
    lines += ["", "Before merging: create the environments and secrets the workflows name (docs/github.md), the label "
              "`access-request` (the issue form applies it; process-access-request runs only on issues that carry "
              "it), and copy `snowtower.toml` into the portal's workspace as `settings.toml`."]
    return "\n".join(lines) + "\n"
