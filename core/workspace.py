"""The demo workspace: a real git repository seeded from the bundled config, the review database and
caches, all in one folder that later runs reuse."""
from __future__ import annotations

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
    commit = repo.commit_files(
        None, seed_files(seed), "Initial configuration from the SnowTower example\n", ("SnowTower", "snowtower@localhost")
    )
    repo.update_ref(f"refs/heads/{base_branch}", commit, None)
    return ws, True


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
