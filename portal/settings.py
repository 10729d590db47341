"""Settings: environment variables and the workspace's settings.toml (st.secrets joins in production)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "snowddl"
DEFAULT_WORKSPACE = Path("~/.snowtower/demo")
ROLES = ("requester", "approver", "admin")


@dataclass(frozen=True)
class Settings:
    workspace: Path
    mode: str = "demo"  # demo: local git + merging deploys; production: GitHub + Snowflake (later)
    base_branch: str = "main"
    config_dir: str = "snowddl"
    required_approvals: int = 1
    env_prefix: str = ""
    extra: dict = field(default_factory=dict)


def load_settings(workspace: str | Path | None = None) -> Settings:
    root = Path(workspace or os.environ.get("SNOWTOWER_WORKSPACE") or DEFAULT_WORKSPACE).expanduser().resolve()
    values: dict = {}
    path = root / "settings.toml"
    if path.is_file():
        values = tomllib.loads(path.read_text(encoding="utf-8")).get("snowtower", {})
    known = {f.name for f in fields(Settings)} - {"workspace", "extra"}
    return Settings(
        workspace=root,
        **{k: v for k, v in values.items() if k in known},
        extra={k: v for k, v in values.items() if k not in known},
    )
