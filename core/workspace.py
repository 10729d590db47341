"""The demo workspace: a real git repository seeded from the bundled config, the review database and
caches, all in one folder that later runs reuse."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.changes.git import GitRepo

INFRA_README = """# Snowflake infrastructure (SnowDDL)

This repository holds the account's configuration as SnowDDL YAML under `snowddl/`.
Changes arrive as change requests from SnowTower; merging one deploys it.
"""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def repo_path(self) -> Path:
        return self.root / "repo.git"

    @property
    def db_path(self) -> Path:
        return self.root / "snowtower.db"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def auth_path(self) -> Path:
        return self.root / "auth.yaml"

    @property
    def account_dir(self) -> Path:
        """The demo's Snowflake stand-in (core.snowflake.demo): SNOWFLAKE.db, a DuckDB file."""
        return self.root / "snowflake"

    def exists(self) -> bool:
        return (self.repo_path / "HEAD").is_file()


def seed_files(seed: Path, prefix: str = "snowddl") -> dict[str, str]:
    files = {"README.md": INFRA_README}
    for path in sorted(seed.rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".md", ".py") and "__pycache__" not in path.parts:
            files[f"{prefix}/{path.relative_to(seed).as_posix()}"] = path.read_bytes().decode("utf-8")  # CRLF kept
    return files


def ensure_demo_workspace(root: str | Path, seed: Path, base_branch: str = "main") -> tuple[Workspace, bool]:
    """Create the workspace on first use; afterwards reuse it untouched. Returns (workspace, created)."""
    ws = Workspace(Path(root).expanduser().resolve())
    if ws.exists():
        return ws, False
    ws.root.mkdir(parents=True, exist_ok=True)
    repo = GitRepo.init_bare(ws.repo_path, base_branch)
    files: dict[str, str | None] = dict(seed_files(seed))  # commit_files' map: None would delete a file
    commit = repo.commit_files(
        None, files, "Initial configuration from the SnowTower example\n", ("SnowTower", "snowtower@localhost")
    )
    repo.update_ref(f"refs/heads/{base_branch}", commit, None)
    return ws, True


CLONE_TIMEOUT = 600  # seconds for `git clone` of a team's repository (a large history over a slow link)


def clone_workspace(root: str | Path, source: str, base_branch: str = "main", config_dir: str = "snowddl") -> Workspace:
    """Create the workspace's repo.git as a bare clone of the team's repository `source` (a path or a git
    URL git can read without asking for a password), checked to hold `config_dir` on `base_branch`.
    The clone is made beside repo.git and renamed into place: a crash leaves no half repository.
    Raises ValueError (the message names the source and what is wrong); the workspace then has no repo.git."""
    import shutil
    import subprocess
    import tempfile

    ws = Workspace(Path(root).expanduser().resolve())
    if ws.exists():
        raise ValueError(f"{ws.repo_path} exists already: --from / config_repo only start a new workspace.")
    ws.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=ws.root))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env["GIT_TERMINAL_PROMPT"] = "0"  # a URL that needs credentials fails instead of waiting for a prompt
        try:
            proc = subprocess.run(["git", "clone", "--bare", "--quiet", "--", source, str(tmp / "repo.git")],
                                  capture_output=True, text=True, env=env, timeout=CLONE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ValueError(f"git clone {source} took longer than {CLONE_TIMEOUT} s; nothing was created.") from None
        if proc.returncode != 0:
            raise ValueError(f"git clone {source} failed: {proc.stderr.strip()[-500:]}")
        repo = GitRepo(tmp / "repo.git")
        if repo.branch_head(base_branch) is None:
            raise ValueError(f"{source} has no branch {base_branch} (set base_branch to the branch holding the config).")
        listed = repo.git("ls-tree", "--name-only", f"refs/heads/{base_branch}", "--", config_dir or ".").strip()
        if config_dir and not listed:
            raise ValueError(f"{source} has no folder {config_dir} on {base_branch} (set config_dir to the SnowDDL "
                             "config folder, or run `snowtower init` in the repository).")
        (tmp / "repo.git").rename(ws.repo_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ws


def ensure_demo_account(ws: Workspace, config, config_sha: str = "", query_rows: int | None = None,
                        first_rows: int | None = None) -> bool:
    """Generate the demo account from `config` (a LoadedConfig) on first use, with `first_rows`
    QUERY_HISTORY rows, and keep it; generate it again only when `query_rows` asks for another size.
    Returns True if it was generated. Raises ValueError for a row count out of bounds."""
    from core.snowflake import demo

    have = demo.meta(ws.account_dir)
    if have and (query_rows is None or have.get("QUERY_ROWS") == str(query_rows)):
        return False
    rows = query_rows or first_rows or demo.DEFAULT_QUERY_ROWS
    demo.generate(ws.account_dir, config, query_rows=rows, config_sha=config_sha)
    return True
