"""The backends, built once per process (the Streamlit entry script caches this object)."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.git import GitRepo
from core.changes.local import LocalChanges
from core.changes.store import Store
from core.snowddl.snapshot import Snapshot, plan_between_commits, snapshot_at
from core.workspace import Workspace, ensure_demo_workspace
from portal.settings import EXAMPLE_CONFIG, Settings


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    store: Store
    changes: LocalChanges

    def snapshot(self, sha: str | None = None) -> Snapshot:
        """The config at `sha` (default: the base branch's head), parsed once per commit."""
        sha = sha or self.changes.base_head()
        return snapshot_at(self.changes.config_at(sha), sha, self.settings.env_prefix)

    def plan(self, base_sha: str, head_sha: str):
        """The offline SnowDDL plan from one commit's config to another's, cached per pair of commits."""
        return plan_between_commits(self.changes.config_at(base_sha), base_sha, self.changes.config_at(head_sha), head_sha,
                                    self.settings.env_prefix)


def build_services(settings: Settings) -> Services:
    ws, _ = ensure_demo_workspace(settings.workspace, EXAMPLE_CONFIG, settings.base_branch)
    store = Store(ws.db_path)
    changes = LocalChanges(GitRepo(ws.repo_path), store, ws.cache_dir, settings.base_branch, settings.config_dir)
    return Services(settings, ws, store, changes)
