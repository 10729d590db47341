"""Settings: the workspace's settings.toml, overridden by SNOWTOWER_<NAME> environment variables.

Secrets (the GitHub token or GitHub App private key) are never settings: they are read from the
environment or st.secrets only when the backend is built (`github_secrets`), and never logged or shown.
"""
from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "snowddl"
DEFAULT_WORKSPACE = Path("~/.snowtower/demo")
ROLES = ("requester", "approver", "admin")


@dataclass(frozen=True)
class Settings:
    workspace: Path
    mode: str = "demo"  # demo: local git + merging deploys; production: GitHub workflows deploy
    base_branch: str = "main"
    config_dir: str = "snowddl"
    required_approvals: int = 1
    env_prefix: str = ""
    backend: str = "local"  # local (git repository in the workspace) | github
    github_repository: str = ""  # OWNER/NAME of the SnowDDL repository
    github_base_url: str = "https://api.github.com"  # GitHub Enterprise Server: https://HOST/api/v3
    github_app_id: str = ""  # GitHub App auth (with the private key secret) instead of a token
    github_installation_id: int = 0  # 0: looked up from the repository
    github_timeout: int = 15  # seconds per request
    github_seconds_between_requests: float = 0.0
    github_seconds_between_writes: float = 0.25
    signin_max_attempts: int = 10  # wrong passwords in a row that lock a login ...
    signin_lockout_minutes: int = 15  # ... for this long (or until `snowtower users unlock LOGIN`)
    # GitHub login -> portal username of an approver: whose native GitHub reviews count (with write
    # permission on the repository, and never on their own request). Env: "login=user,login2=user2".
    github_approvers: dict = field(default_factory=dict)
    github_portal_login: str = ""  # the portal's own GitHub login; "": learned from the credentials
    github_deploy_login: str = "github-actions[bot]"  # whose "deployed" event comments count (merge-deploy workflow)
    price_per_credit: float = 3.0  # money per Snowflake credit, for the cost page and projections
    currency: str = "USD"
    demo_query_rows: int = 100_000  # QUERY_HISTORY rows of a new demo account (snowtower demo --query-rows N)
    audit_log: str = "sqlite"  # sqlite (the workspace database) | snowflake (table audit_table, created if missing)
    audit_table: str = "SNOWTOWER_AUDIT_LOG"  # NAME, SCHEMA.NAME or DB.SCHEMA.NAME
    # --- issue 15: access that expires (snowtower expire, app/operations/expire.py)
    expiry_auto_approve: bool = False  # revoke requests for ended grants are approved by the expiry policy actor
    expiry_stale_days: int = 90  # users with no login for this many days are proposed for offboarding
    # --- end issue 15
    # --- issue 13: risk flags ---
    risk_warehouse_size_threshold: str = "LARGE"  # warehouses of a larger size are flagged on review (XSMALL ... X6LARGE)
    # --- issue 13: notifications (secrets: app.notifications.config.notify_secrets; none of them here) ---
    base_url: str = ""  # the portal's address as people open it, e.g. https://snowtower.company.com ("": no links)
    notify_timeout: float = 5.0  # seconds per Slack request or SMTP command: a slow receiver is given up on
    notify_slack_channel: str = ""  # with the bot token secret: the channel chat.postMessage posts to
    notify_slack_api_url: str = "https://slack.com/api"  # Slack's Web API (GovSlack: https://slack-gov.com/api)
    notify_smtp_host: str = ""  # "": no email
    notify_smtp_port: int = 587
    notify_smtp_tls: str = "starttls"  # starttls | ssl (TLS from the start, port 465) | none (a local relay)
    notify_smtp_user: str = ""  # SMTP login; its password is the secret SNOWTOWER_NOTIFY_SMTP_PASSWORD
    notify_smtp_from: str = ""  # the From address, e.g. snowtower@company.com
    # --- issue 12 / issue 14 item 2: identity (app/identity.py) ---
    auth: str = "local"  # who signs in: local (users file) | oidc (st.login, secrets [auth]) | sis (st.user + Snowflake roles)
    auth_group_claim: str = "groups"  # oidc: the claim listing the person's groups
    auth_group_roles: dict = field(default_factory=dict)  # oidc: group -> requester | approver | admin
    sis_role_mapping: dict = field(default_factory=lambda: {  # sis: Snowflake role -> portal role
        "snowtower_admin": "admin", "snowtower_approver": "approver", "snowtower_requester": "requester"})
    extra: dict = field(default_factory=dict)


def _typed(name: str, value):
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "dict":
        if isinstance(value, str):  # from the environment: login=user,login2=user2
            pairs = [p.partition("=") for p in value.split(",") if p.strip()]
            value = {k.strip(): v.strip() for k, _, v in pairs}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
            raise ValueError(f"{name} must map GitHub logins to portal usernames")
        return {k.lower(): v for k, v in value.items()}
    if kind == "bool" and isinstance(value, str):  # from the environment (issue 15)
        if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(f"{name} must be true or false")
        return value.strip().lower() in ("true", "1", "yes", "on")
    if not isinstance(value, str) or kind == "str":
        return value
    return {"int": int, "float": float}.get(kind, str)(value)


def load_settings(workspace: str | Path | None = None) -> Settings:
    root = Path(workspace or os.environ.get("SNOWTOWER_WORKSPACE") or DEFAULT_WORKSPACE).expanduser().resolve()
    values: dict = {}
    path = root / "settings.toml"
    if path.is_file():
        values = tomllib.loads(path.read_text(encoding="utf-8")).get("snowtower", {})
    known = {f.name for f in fields(Settings)} - {"workspace", "extra"}
    for name in known:
        env = os.environ.get(f"SNOWTOWER_{name.upper()}")
        if env not in (None, ""):
            values[name] = env
    try:
        typed = {k: _typed(k, v) for k, v in values.items() if k in known}
    except ValueError as exc:
        raise ValueError(f"a SnowTower setting has the wrong type: {exc}") from None
    if typed.get("github_repository") and "backend" not in typed:
        typed["backend"] = "github"
    if typed.get("backend") == "github" and "mode" not in typed:
        typed["mode"] = "production"  # on GitHub the repository's workflows deploy, not the portal
    settings = Settings(workspace=root, **typed, extra={k: v for k, v in values.items() if k not in known})
    if settings.backend not in ("local", "github"):
        raise ValueError(f"backend must be local or github, not {settings.backend!r}")
    if settings.audit_log not in ("sqlite", "snowflake"):
        raise ValueError(f"audit_log must be sqlite or snowflake, not {settings.audit_log!r}")
    if settings.signin_max_attempts < 1 or settings.signin_lockout_minutes < 1:
        raise ValueError("signin_max_attempts and signin_lockout_minutes must be 1 or more")
    if settings.backend == "github" and not settings.github_repository:
        raise ValueError("backend = github needs github_repository = OWNER/NAME")
    _check_identity_settings(settings)
    return _check_cost_settings(settings)


def _check_identity_settings(settings: Settings) -> None:
    """auth names a provider; each mapping gives portal roles (issue 12 / issue 14 item 2)."""
    if settings.auth not in ("local", "oidc", "sis"):
        raise ValueError(f"auth must be local, oidc or sis, not {settings.auth!r}")
    for name in ("auth_group_roles", "sis_role_mapping"):
        bad = sorted({v for v in getattr(settings, name).values() if v not in ROLES})
        if bad:
            raise ValueError(f"{name} maps to portal roles ({', '.join(ROLES)}), not {', '.join(map(repr, bad))}")


def _check_cost_settings(settings: Settings) -> Settings:
    """Money is credits x price_per_credit in `currency`: a finite amount of 0 or more, an ISO 4217 code."""
    from core.snowflake.demo import MAX_QUERY_ROWS

    price = settings.price_per_credit
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not 0 <= price < float("inf"):
        raise ValueError(f"price_per_credit must be a finite amount of 0 or more, not {price!r}")
    if not isinstance(settings.currency, str) or not re.fullmatch(r"[A-Za-z]{3}", settings.currency):
        raise ValueError(f"currency must be a three-letter ISO 4217 code such as USD or EUR, not {settings.currency!r}")
    rows = settings.demo_query_rows
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_QUERY_ROWS:
        raise ValueError(f"demo_query_rows must be between 1 and {MAX_QUERY_ROWS:,}, not {rows!r}")
    return replace(settings, price_per_credit=float(price), currency=settings.currency.upper())


def github_secrets(settings: Settings) -> dict:
    """The GitHub token or App private key: environment first (SNOWTOWER_GITHUB_TOKEN,
    SNOWTOWER_GITHUB_APP_PRIVATE_KEY or SNOWTOWER_GITHUB_APP_PRIVATE_KEY_PATH), then st.secrets
    [github] token / private_key / app_id / installation_id when running inside Streamlit."""
    out = {"token": os.environ.get("SNOWTOWER_GITHUB_TOKEN") or None,
           "private_key": os.environ.get("SNOWTOWER_GITHUB_APP_PRIVATE_KEY") or None}
    key_path = os.environ.get("SNOWTOWER_GITHUB_APP_PRIVATE_KEY_PATH")
    if not out["private_key"] and key_path:
        out["private_key"] = Path(key_path).expanduser().read_text(encoding="utf-8")
    if "streamlit" in sys.modules and not (out["token"] or out["private_key"]):
        try:
            import streamlit as st

            section = dict(st.secrets.get("github", {}))
        except Exception:  # no secrets.toml: not an error here, the backend says what is missing
            section = {}
        out["token"] = section.get("token") or None
        out["private_key"] = section.get("private_key") or None
        out["app_id"] = str(section.get("app_id") or "") or None
        out["installation_id"] = int(section.get("installation_id") or 0) or None
    return out


def signing_key(settings: Settings) -> bytes:
    """The key that signs request records kept on GitHub (core.changes.metadata.sign): environment
    SNOWTOWER_SIGNING_KEY, then st.secrets [snowtower] signing_key, else a random key generated once
    into the workspace (`signing.key`, readable by its owner only). Never a setting, never shown."""
    value = os.environ.get("SNOWTOWER_SIGNING_KEY")
    if not value and "streamlit" in sys.modules:
        try:
            import streamlit as st

            value = dict(st.secrets.get("snowtower", {})).get("signing_key")
        except Exception:  # no secrets.toml: fall back to the workspace's key
            value = None
    if value:
        return str(value).encode("utf-8")
    path = settings.workspace / "signing.key"
    if not path.is_file():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # first writer wins: two processes never end up with two keys
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")
