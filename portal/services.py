"""The backends, built once per process (the Streamlit entry script caches this object)."""
from __future__ import annotations

from dataclasses import dataclass

from core.changes.base import ChangeBackend
from core.changes.git import GitRepo
from core.changes.local import LocalChanges
from core.changes.model import Actor, Status
from core.changes.store import Store
from core.snowddl.snapshot import Snapshot, plan_between_commits, snapshot_at
from core.workspace import Workspace, ensure_demo_workspace
from portal.settings import EXAMPLE_CONFIG, Settings, github_secrets, signing_key


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    store: Store
    changes: ChangeBackend  # LocalChanges (demo) or GitHubChanges

    def snapshot(self, sha: str | None = None) -> Snapshot:
        """The config at `sha` (default: the base branch's head), parsed once per commit."""
        sha = sha or self.changes.base_head()
        return snapshot_at(self.changes.config_at(sha), sha, self.settings.env_prefix, self.workspace.cache_dir)

    def plan(self, base_sha: str, head_sha: str):
        """The offline SnowDDL plan from one commit's config to another's, cached per pair of commits."""
        return plan_between_commits(self.changes.config_at(base_sha), base_sha, self.changes.config_at(head_sha), head_sha,
                                    self.settings.env_prefix, self.workspace.cache_dir)


def build_github(settings: Settings, ws: Workspace, clients=None):
    """The GitHub backend for `settings`; `clients` makes PyGithub clients (default: from the settings)."""
    from core.changes.github import GitHubChanges, GitHubConfig, connect

    secrets = github_secrets(settings)
    cfg = GitHubConfig(
        repository=settings.github_repository, base_url=settings.github_base_url,
        token=secrets.get("token"), private_key=secrets.get("private_key"),
        app_id=settings.github_app_id or secrets.get("app_id"),
        installation_id=settings.github_installation_id or secrets.get("installation_id"),
        timeout=settings.github_timeout, seconds_between_requests=settings.github_seconds_between_requests,
        seconds_between_writes=settings.github_seconds_between_writes, portal_login=settings.github_portal_login,
        deploy_login=settings.github_deploy_login, approvers=dict(settings.github_approvers),
    )
    return GitHubChanges(clients or connect(cfg), cfg, ws.cache_dir, settings.base_branch, settings.config_dir,
                         settings.required_approvals, signing_key=signing_key(settings))


def build_services(settings: Settings) -> Services:
    if settings.backend == "github":
        ws = Workspace(settings.workspace)
        ws.root.mkdir(parents=True, exist_ok=True)
        return Services(settings, ws, Store(ws.db_path), build_github(settings, ws))
    ws, _ = ensure_demo_workspace(settings.workspace, EXAMPLE_CONFIG, settings.base_branch)
    store = Store(ws.db_path)
    changes = LocalChanges(GitRepo(ws.repo_path), store, ws.cache_dir, settings.base_branch, settings.config_dir,
                           settings.required_approvals)
    changes.repair()  # a crash of the last run left nothing half-done (see LocalChanges.repair)
    if settings.mode == "demo":
        # In the demo merging deploys: a merge whose deployment record a crash cut off is deployed now.
        for cr in changes.list(statuses=[Status.MERGED]):
            changes.record_deployment(cr, Actor("snowtower"), f"demo deployment recorded after an interrupted merge: "
                                                              f"baseline is now {cr.merged_sha[:8]}")
    return Services(settings, ws, store, changes)
