"""The backends, built once per process (the Streamlit entry script caches this object)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from core.changes.base import ChangeBackend, ChangeError
from core.changes.git import GitRepo
from core.changes.local import LocalChanges
from core.changes.store import Store
from core.snowddl.commit_snapshot import Snapshot, plan_between_commits, snapshot_at
from core.lockout import Lockout
from app.host import Host
from app.host import current as current_host
from app.identity import Identity, identity_for, lockout_for
from app.mode import Mode
from core.workspace import Workspace, clone_workspace, ensure_demo_account, ensure_demo_workspace
from app.audit import AuditLog
from app.audit_stores import audit_log_for
from app.settings import EXAMPLE_CONFIG, Problem, Settings, SettingsError, github_secrets, signing_key


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    """The ports every operation reaches the world through:
    - `changes`: the change backend (core.changes.base.ChangeBackend: LocalChanges or GitHubChanges);
    - `audit`: the append-only audit log (app.audit.AuditLog: SQLite in the demo, a Snowflake table
      in production);
    - `identity`: who may act and with which roles now (app.identity: local logins, OIDC or Streamlit
      in Snowflake, behind the jobs' identities); the sign-in makes the Actor passed to each operation,
      and run_audited re-reads its roles here; `lockout()` is the sign-in lock-out of this workspace;
    - Snowflake queries: `snowflake_source()` (core.snowflake: the demo's stand-in or the connector);
    - `clock`: returns the current aware UTC datetime (tests move it);
    - `notifications`: app.notifications.Notifier, the plugins that tell people about requests
      (operations call app.notifications.notify after their write);
    - `host`: what the process hosting SnowTower gives (app.host: its secrets and signed-in viewer;
      Streamlit's in the portal, none in the command line and the jobs);
    - `mode`: the deployment mode (app.mode.Mode: demo or production, server or Streamlit in Snowflake,
      local git or GitHub), decided once by build_services; the rest asks it here."""
    settings: Settings
    workspace: Workspace
    store: Store | None  # the local backend's review records (None with GitHub in Streamlit in Snowflake)
    changes: ChangeBackend  # LocalChanges (demo) or GitHubChanges
    audit: AuditLog = None  # type: ignore[assignment]  # default: audit_log_for(settings, snowflake)
    clock: Callable[[], datetime] = field(default=utcnow)
    notifications: object = None  # app.notifications.Notifier; default: notifier_for(settings, workspace)
    identity: Identity = None  # type: ignore[assignment]  # default: identity_for(settings)
    # The Snowflake source handed in by the portal (st.connection: the active session in Streamlit in
    # Snowflake); None: snowflake_source() makes one (the demo's stand-in, or the connector).
    snowflake: object = None
    host: Host = field(default_factory=current_host)
    mode: Mode = None  # type: ignore[assignment]  # default: Mode.of(settings)

    def __post_init__(self):
        if self.mode is None:
            self.mode = Mode.of(self.settings)
        if self.audit is None:
            self.audit = audit_log_for(self.settings, self.snowflake)
        if self.notifications is None:
            from app.notifications.config import notifier_for

            self.notifications = notifier_for(self.settings, self.workspace, self.host.secrets)
        if self.identity is None:
            self.identity = identity_for(self.settings, lambda: self.snowflake_source(), self.host.user)

    def lockout(self) -> Lockout:
        """The sign-in lock-out of this workspace (its counts live in the workspace database)."""
        return lockout_for(self.settings)

    def snapshot(self, sha: str | None = None) -> Snapshot:
        """The config at `sha` (default: the base branch's head), parsed once per commit."""
        sha = sha or self.changes.base_head()
        return snapshot_at(self.changes.config_at(sha), sha, self.settings.env_prefix, self.workspace.cache_dir)

    def plan(self, base_sha: str, head_sha: str):
        """The offline SnowDDL plan from one commit's config to another's, cached per pair of commits."""
        return plan_between_commits(self.changes.config_at(base_sha), base_sha, self.changes.config_at(head_sha), head_sha,
                                    self.settings.env_prefix, self.workspace.cache_dir)

    def live_configured(self) -> bool:
        """Whether SnowDDL's SNOWFLAKE_* credentials are set (account, user and a key or password), so
        `drift` can plan against the account. A key file that cannot be read still counts: `drift` says why."""
        from core.snowddl.plan import live_credentials

        try:
            return live_credentials() is not None
        except Exception:  # unreadable key file or wrong passphrase: configured, but broken
            return True

    def drift(self, sha: str | None = None):
        """Drift between the account and the config at `sha` (default: the base branch's head): SnowDDL's
        live plan, the statements it would run to make the account match the config (a Plan, mode "live").

        Raises PlanError with a one-line reason, never a traceback, when no credentials are set, the config
        does not validate, or the account cannot be reached or read."""
        from core.snowddl import plan as planning

        config = self.snapshot(sha).config
        if config.snowddl is None or not config.validation.valid:
            raise planning.PlanError("the configuration on the base branch does not validate: SnowDDL would not plan it")
        try:
            return planning.plan_live(config.snowddl)
        except planning.PlanError:
            raise
        except Exception as exc:  # connector errors, bad key, network: the reason in one line
            reason = " ".join(str(exc).split())[:500]
            raise planning.PlanError(f"the account could not be read ({type(exc).__name__}: {reason})") from None

    def sync_demo_account(self, generate: bool = False, query_rows: int | None = None) -> list[str]:
        """Demo mode: the Snowflake stand-in follows the deployed config (the base branch's head). With
        `generate` it is made if missing (or at another `query_rows`); users and warehouses merged since
        it was made show up. Idempotent, so running it on every start repairs a deployment whose sync
        was interrupted. Returns what changed, one line each."""
        from core.snowflake import demo

        if not self.mode.demo_account:
            return []
        if not generate and not demo.meta(self.workspace.account_dir):
            return []
        sha = self.changes.base_head()
        config = self.snapshot(sha).config
        if config.snowddl is None or not config.validation.valid:
            return []
        if generate and ensure_demo_account(self.workspace, config, sha, query_rows, self.settings.demo_query_rows):
            return ["demo account generated"]
        return demo.sync(self.workspace.account_dir, config, sha)

    def snowflake_source(self):
        """The source the query layer reads in this process without Streamlit: the demo's stand-in (made
        on first use), or the connector with key-pair auth from SNOWFLAKE_* variables."""
        from core.snowflake.connect import connector_source, standin_source

        if self.snowflake is not None:
            return self.snowflake
        if self.mode.demo_account:
            self.sync_demo_account(generate=True)
            return standin_source(self.workspace.account_dir)
        return connector_source()


def build_github(settings: Settings, ws: Workspace, clients=None, identity: Identity | None = None,
                 is_approver: Callable[[str], bool] | None = None):
    """The GitHub backend for `settings`; `clients` makes PyGithub clients (default: from the settings);
    `is_approver(username)`, whose native reviews count: default `identity`'s approvers now
    (portal_approvers; `identity` default identity_for(settings))."""
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
                         settings.required_approvals, signing_key=signing_key(settings),
                         is_approver=is_approver or portal_approvers(identity or identity_for(settings)))


def portal_approvers(identity: Identity) -> Callable[[str], bool]:
    """`is_approver(username) -> bool`: True while `identity` gives that login the approver or admin
    role now (for local logins: the users file, parsed again whenever it changes; unreadable: False)."""
    def is_approver(username: str) -> bool:
        return bool(identity.roles_of(str(username).lower()) & {"approver", "admin"})
    return is_approver


def build_services(settings: Settings, snowflake=None, host: Host | None = None) -> Services:
    """The backends of `settings`. `snowflake`: a core.snowflake source the portal made from
    st.connection (required in Streamlit in Snowflake, where the audit log is a Snowflake table).
    `host`: its secrets and signed-in viewer (app.host; default the one this process installed: the
    portal's Streamlit, or none in the command line and the jobs).
    Raises SettingsError or ChangeError when a backend cannot be built (the message says why)."""
    host = host or current_host()
    mode = Mode.of(settings)  # the one place the deployment mode is decided; the rest asks services.mode
    if mode.in_sis:
        return build_sis_services(settings, snowflake, host)
    if mode.on_github:
        ws = Workspace(settings.workspace)
        ws.root.mkdir(parents=True, exist_ok=True)
        identity = identity_for(settings, lambda: services.snowflake_source(), host.user)
        services = Services(settings, ws, Store(ws.db_path), build_github(settings, ws, identity=identity),
                            identity=identity, snowflake=snowflake, host=host, mode=mode)
        complete_interrupted(services)
        return services
    if settings.config_repo and not Workspace(settings.workspace).exists():
        try:  # a team's workspace starts from its own repository; only the demo from the example config
            clone_workspace(settings.workspace, settings.config_repo, settings.base_branch, settings.config_dir)
        except ValueError as exc:
            raise SettingsError([Problem("config_repo", "", str(exc))]) from None
    ws, _ = ensure_demo_workspace(settings.workspace, EXAMPLE_CONFIG, settings.base_branch)
    if mode.demo_logins:
        from app.identity import ensure_demo_logins

        ensure_demo_logins(ws.auth_path)  # the demo's three logins (password 'demo'), made once
    store = Store(ws.db_path)
    # In the demo merging deploys (LocalChanges.deploy); in production a workflow does.
    changes = LocalChanges(GitRepo(ws.repo_path), store, ws.cache_dir, settings.base_branch, settings.config_dir,
                           settings.required_approvals, deploys_on_merge=mode.is_demo)
    changes.repair()  # a crash of the last run left nothing half-done (see LocalChanges.repair)
    services = Services(settings, ws, store, changes, snowflake=snowflake, host=host, mode=mode)
    complete_interrupted(services)
    try:
        services.sync_demo_account()  # finishes a demo deployment's sync that was interrupted
    except Exception:  # the portal still starts; the cost page says what is wrong with the account
        logging.getLogger(__name__).warning("the demo account could not be brought up to date", exc_info=True)
    return services


def complete_interrupted(services: Services) -> list[str]:
    """The repair at start: the outcome of every operation a killed process left with an intent only
    (app.operations.shared.audited.complete_open_intents). A store that cannot be used now is logged, not fatal:
    the portal starts, and each operation refuses until the store takes its intent."""
    from app.audit import AuditError
    from app.operations.shared.audited import complete_open_intents

    try:
        return complete_open_intents(services)
    except (AuditError, ChangeError) as exc:
        logging.getLogger(__name__).warning("the audit log's open intents could not be completed at start: %s", exc)
        return []


@dataclass
class LoginServices:
    """The ports the login operations (app.operations.logins, unlock) need, without a change backend:
    what `snowtower users` builds, so managing logins never reaches git, GitHub or Snowflake."""
    settings: Settings
    workspace: Workspace
    audit: AuditLog
    identity: Identity
    clock: Callable[[], datetime] = field(default=utcnow)

    def lockout(self) -> Lockout:
        return lockout_for(self.settings)


def login_services(settings: Settings) -> LoginServices:
    """The login operations' ports. With auth = sis no person's roles are read here (the command line
    acts as a job), so the Snowflake source is one that says it is not there if anything asks."""
    ws = Workspace(settings.workspace)
    ws.root.mkdir(parents=True, exist_ok=True)

    def no_snowflake():
        from core.changes.base import ChangeError

        raise ChangeError("the command line reads no viewer's Snowflake roles")
    return LoginServices(settings, ws, audit_log_for(settings), identity_for(settings, no_snowflake))


def build_sis_services(settings: Settings, snowflake, host: Host | None = None) -> Services:
    """Streamlit in Snowflake: no workspace, no git binary, no SQLite. GitHub holds the change requests
    and their records (on the pull requests), the audit log is a Snowflake table (created if missing)
    reached through `snowflake`, the secrets come from the app's Snowflake secrets (app.settings).

    SnowDDL reads a config from a folder, so each commit's config is exported once into a folder of
    this process's temporary directory: scratch space that nobody configures, removed when the backend
    is collected, at the latest when the process exits (the portal keeps its backend for the process). Whose native GitHub reviews count comes from the identity
    port: a mapped approver's Snowflake roles, read through the same session (app.identity.Sis)."""
    import shutil
    import tempfile
    import weakref

    from app.settings import Problem, SettingsError

    if snowflake is None:
        raise SettingsError([Problem("snowflake_connection", "the default", "Streamlit in Snowflake needs the "
                                     "app's Snowflake session (st.connection) for the audit log")])
    ws = Workspace(Path(tempfile.mkdtemp(prefix="snowtower-sis-")))
    host = host or current_host()
    identity = identity_for(settings, lambda: snowflake, host.user)
    changes = build_github(settings, ws, identity=identity)
    # The folder goes with the backend that reads it (which outlives the services), at the latest at exit.
    weakref.finalize(changes, shutil.rmtree, ws.root, True)
    return Services(settings, ws, None, changes, snowflake=snowflake, identity=identity, host=host)
