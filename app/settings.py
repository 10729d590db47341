"""Settings: one documented schema (pydantic-settings), read from three sources, highest first:

1. the environment: `SNOWTOWER_<NAME>` (e.g. SNOWTOWER_REQUIRED_APPROVALS=2);
2. st.secrets, when running inside Streamlit: the `[snowtower]` table of secrets.toml (in Streamlit in
   Snowflake's container runtime, the app's secrets); the older `[github]` table (token, private_key,
   app_id, installation_id) is read too;
3. the workspace's `settings.toml`, table `[snowtower]`;
4. the app's own `snowtower.toml` beside its files, table `[snowtower]`: how Streamlit in Snowflake, which
   has no environment and no workspace, gets its settings (deploy/snowtower.toml, see snowflake.yml).

An unknown key, a wrong type or a value out of range is an error naming the key and the source; every
problem is collected (`inspect_settings`) so that the portal's settings page and `snowtower check` list
them all at once. Secrets (GitHub token and App key, signing key, Slack and SMTP credentials) are
SecretStr: printed as `**********`, read with `.get_secret_value()` only where they are used.
docs/settings.md is generated from this schema (`python -m app.settings --markdown`); a test keeps it so.
"""
from __future__ import annotations

import difflib
import functools
import importlib.util
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.host import SecretsSource, host_secrets
from app.host import current as current_host
from app.paths import DEFAULT_WORKSPACE, EXAMPLE_CONFIG, REPO_ROOT  # noqa: F401 (their names here too)
APP_SETTINGS = REPO_ROOT / "snowtower.toml"  # deployed with the app (Streamlit in Snowflake); absent in the repository
ROLES = ("requester", "approver", "admin")
ENV_PREFIX = "SNOWTOWER_"
# SNOWTOWER_* variables that are not settings: where the workspace is, who runs a CLI request, and the
# test suite's own knobs. Any other SNOWTOWER_* variable must be a setting (a misspelling is an error).
NOT_SETTINGS = frozenset({"WORKSPACE", "USER", "GITHUB_AUTHOR", "CASES", "CHROMIUM", "HYPOTHESIS_EXAMPLES", "ACTIONLINT_MODULES",
                          "CRASH_AT", "TEST_GITHUB_PROTECTION", "OCTOKIT_OPENAPI"})  # CRASH_AT: core.faults, the crash tests' named step
WAREHOUSE_SIZES = ("XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE", "XXXLARGE", "X4LARGE", "X5LARGE", "X6LARGE")
MAX_SETTINGS_FILE_BYTES = 1_000_000  # a settings.toml larger than this is refused before it is parsed
MIN_SECRET_KEY = 32  # characters of a key SnowTower signs with (cookies, request records)
MIN_SECRET_DISTINCT = 8  # different characters in it: "aaaa...", "changemechangeme..." are guessable
# Keys from streamlit-authenticator's, Streamlit's and the docs' examples: public, so as good as none.
PUBLISHED_KEYS = frozenset({"", "some_key", "some_signature_key", "random_signature_key", "abcdef", "changeme",
                            "xxx", "secret", "your-secret-key"})


def _group(name: str) -> dict:
    return {"group": name}


def in_snowflake() -> bool:
    """True when this process runs as Streamlit in Snowflake: the warehouse runtime provides the
    `_snowflake` module, the container runtime (SPCS) mounts a session token at /snowflake/session/token."""
    return "_snowflake" in sys.modules or _snowflake_runtime()


@functools.cache
def _snowflake_runtime() -> bool:  # looked up once: a process does not move into Snowflake
    return importlib.util.find_spec("_snowflake") is not None or Path("/snowflake/session/token").is_file()


class Settings(BaseSettings):
    """Every setting of SnowTower. Attribute access as `settings.NAME`; immutable (model_copy(update=...))."""

    # coerce_numbers_to_str: `github_app_id = 12345` in TOML is the id "12345".
    model_config = SettingsConfigDict(extra="forbid", frozen=True, validate_default=True, coerce_numbers_to_str=True)

    # --- where and how it runs
    workspace: Path = Field(DEFAULT_WORKSPACE, description="The workspace folder (demo git repository, SQLite, users "
                            "file, caches). Set by --workspace or SNOWTOWER_WORKSPACE, never in settings.toml.",
                            json_schema_extra=_group("Runtime"))
    mode: Literal["demo", "production"] = Field("demo", description="demo: local git and merging deploys; production: "
                                                "the repository's workflows deploy. Default production when backend = github.",
                                                json_schema_extra=_group("Runtime"))
    runtime: Literal["auto", "local", "sis"] = Field("auto", description="local (a machine or server with a workspace) or "
                                                     "sis (Streamlit in Snowflake: no workspace, no git binary); auto detects SiS.",
                                                     json_schema_extra=_group("Runtime"))
    base_url: str = Field("", description="The portal's public URL behind a reverse proxy (https://HOST/PATH), used in "
                          "links and its path as Streamlit's server.baseUrlPath by `snowtower serve`; \"\": served at /.",
                          json_schema_extra=_group("Runtime"))
    # --- change requests
    backend: Literal["local", "github"] = Field("local", description="local (a git repository in the workspace) or github "
                                                "(pull requests). Default github when github_repository is set.",
                                                json_schema_extra=_group("Change requests"))
    base_branch: str = Field("main", min_length=1, description="The branch that holds the deployed configuration.",
                             json_schema_extra=_group("Change requests"))
    config_dir: str = Field("snowddl", description="The SnowDDL config folder inside the repository.",
                            json_schema_extra=_group("Change requests"))
    config_repo: str = Field("", description="Local backend: the team's SnowDDL git repository (a path or a URL git "
                             "reads without a password) that a new workspace's repo.git is cloned from "
                             "(`snowtower serve --from`); \"\": the demo's example config.",
                             json_schema_extra=_group("Change requests"))
    env_prefix: str = Field("", description="SnowDDL's env prefix of the account's object names.",
                            json_schema_extra=_group("Change requests"))
    required_approvals: int = Field(1, ge=1, le=10, description="Approvals a request needs before it may be merged.",
                                    json_schema_extra=_group("Change requests"))
    # --- GitHub
    github_repository: str = Field("", description="OWNER/NAME of the SnowDDL repository.", json_schema_extra=_group("GitHub"))
    github_base_url: str = Field("https://api.github.com", description="The API's URL; GitHub Enterprise Server: "
                                 "https://HOST/api/v3.", json_schema_extra=_group("GitHub"))
    github_token: SecretStr | None = Field(None, description="A token with contents and pull requests write on the "
                                           "repository. Secret.", json_schema_extra=_group("GitHub"))
    github_app_id: str = Field("", description="GitHub App auth (with github_app_private_key) instead of a token.",
                               json_schema_extra=_group("GitHub"))
    github_app_private_key: SecretStr | None = Field(None, description="The GitHub App's private key (PEM). Secret.",
                                                     json_schema_extra=_group("GitHub"))
    github_app_private_key_path: str = Field("", description="A file holding the GitHub App's private key (PEM).",
                                             json_schema_extra=_group("GitHub"))
    github_installation_id: int = Field(0, ge=0, description="The App's installation; 0: looked up from the repository.",
                                        json_schema_extra=_group("GitHub"))
    github_secret_name: str = Field("", description="Streamlit in Snowflake: the name (in the app's SECRETS clause) of "
                                    "the Snowflake secret holding the GitHub token, or the App key when github_app_id "
                                    "is set; read through the external access integration.",
                                    json_schema_extra=_group("GitHub"))
    github_timeout: int = Field(15, ge=1, le=300, description="Seconds per GitHub request.", json_schema_extra=_group("GitHub"))
    github_seconds_between_requests: float = Field(0.0, ge=0, le=60, description="PyGithub's throttle between requests (s).",
                                                   json_schema_extra=_group("GitHub"))
    github_seconds_between_writes: float = Field(0.25, ge=0, le=60, description="PyGithub's throttle between writes (s).",
                                                 json_schema_extra=_group("GitHub"))
    github_approvers: dict[str, str] = Field(default_factory=dict, description="GitHub login -> portal username of an "
                                             "approver whose native GitHub reviews count. Env: \"login=user,login2=user2\".",
                                             json_schema_extra=_group("GitHub"))
    github_users: dict[str, str] = Field(default_factory=dict, description="GitHub login -> portal username: whose "
                                         "access-request issues (and merges on GitHub) act as that portal user. Any "
                                         "other GitHub login acts as github:LOGIN, never as a portal login of the same "
                                         "name. Env: \"login=user,login2=user2\".", json_schema_extra=_group("GitHub"))
    github_portal_login: str = Field("", description="The portal's own GitHub login; \"\": learned from the credentials.",
                                     json_schema_extra=_group("GitHub"))
    github_deploy_login: str = Field("github-actions[bot]", description="Whose \"deployed\" event comments count "
                                     "(the merge-deploy workflow).", json_schema_extra=_group("GitHub"))
    signing_key: SecretStr | None = Field(None, description="Signs request records kept on GitHub; unset: a random key "
                                          "kept in the workspace (signing.key). Secret.", json_schema_extra=_group("GitHub"))
    # --- sign-in and roles
    auth: Literal["local", "oidc", "sis"] = Field("local", description="Who signs in: local (users file, bcrypt), oidc "
                                                "(st.login with [auth] in secrets) or sis (st.user and the viewer's "
                                                "Snowflake roles; only in Streamlit in Snowflake, and the demo). "
                                                "Default sis in Streamlit in Snowflake.",
                                                json_schema_extra=_group("Sign-in and roles"))
    cookie_key: SecretStr | None = Field(None, description="Signs local logins' session cookies; outside the demo it "
                                         "must be 32 random characters or more. Secret.",
                                         json_schema_extra=_group("Sign-in and roles"))
    signin_max_attempts: int = Field(10, ge=1, le=1000, description="Wrong passwords in a row that lock a login ...",
                                     json_schema_extra=_group("Sign-in and roles"))
    signin_lockout_minutes: int = Field(15, ge=1, le=100_000, description="... for this long (or until `snowtower users "
                                        "unlock LOGIN`).", json_schema_extra=_group("Sign-in and roles"))
    auth_group_claim: str = Field("groups", description="oidc: the claim that lists the viewer's groups: a list, each "
                                  "element one group; a string is one group (or the JSON list it spells), never split. "
                                  "Okta: groups (names, once a groups claim is added); Entra ID: groups (object IDs) or "
                                  "roles (app roles); Google sends none (docs/security.md).",
                                  json_schema_extra=_group("Sign-in and roles"))
    auth_group_roles: dict[str, str] = Field(default_factory=dict, description="oidc: group -> portal role (requester, "
                                             "approver, admin); a group maps when its whole name (Entra ID: object ID) "
                                             "equals a key, case aside. Env: \"ops=admin,analysts=requester\".",
                                             json_schema_extra=_group("Sign-in and roles"))
    sis_role_mapping: dict[str, str] = Field(default_factory=lambda: {
        "snowtower_admin": "admin", "snowtower_approver": "approver", "snowtower_requester": "requester"},
        description="sis: the viewer's Snowflake role (inherited ones count; SnowDDL's business role of the same name, "
                    "ending in __B_ROLE, too) -> portal role. Env: \"SNOWTOWER_ADMIN=admin,ANALYST=requester\".",
        json_schema_extra=_group("Sign-in and roles"))
    # --- Snowflake
    snowflake_connection: str = Field("snowflake", description="The st.connection name (secrets [connections.NAME]); in "
                                      "SiS the active session.", json_schema_extra=_group("Snowflake"))
    snowflake_schema: str = Field("", pattern=r"^([A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*)?$", description="DB.SCHEMA of SnowTower's own tables in Snowflake (audit log, finding states, alerts' ledger, "
                                  "campaigns, lock rows); \"\": the connection's schema.", json_schema_extra=_group("Snowflake"))
    audit_log: Literal["sqlite", "snowflake"] = Field("sqlite", description="sqlite (the workspace database) or snowflake "
                                                      "(table audit_table, created by deploy/setup.sql step 4; finding states, the alerts' "
                                                      "ledger and campaigns then live in Snowflake tables beside it). Default snowflake in SiS.",
                                                      json_schema_extra=_group("Snowflake"))
    audit_table: str = Field("SNOWTOWER_AUDIT_LOG", pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$",
                             description="NAME, SCHEMA.NAME or DB.SCHEMA.NAME of the audit table.",
                             json_schema_extra=_group("Snowflake"))
    demo_query_rows: int = Field(100_000, ge=1, description="QUERY_HISTORY rows of a new demo account (snowtower demo "
                                 "--query-rows N).", json_schema_extra=_group("Snowflake"))
    # --- cost and risk
    price_per_credit: float = Field(3.0, ge=0, allow_inf_nan=False, description="Money per Snowflake credit, for the cost "
                                    "page and projections.", json_schema_extra=_group("Cost and risk"))
    currency: str = Field("USD", description="ISO 4217 code of price_per_credit.", json_schema_extra=_group("Cost and risk"))
    price_per_credit_by_service: dict[str, float] = Field(
        default_factory=dict, description="Money per credit of a METERING_DAILY_HISTORY service type priced apart from "
        "price_per_credit (e.g. SNOWPARK_CONTAINER_SERVICES = 2.0); others cost price_per_credit.",
        json_schema_extra=_group("Cost and risk"))
    storage_price_per_tb_month: float = Field(23.0, ge=0, allow_inf_nan=False, description="Money per TB-month of storage "
                                              "(your contract's rate; on demand is higher).", json_schema_extra=_group("Cost and risk"))
    data_transfer_price_per_tb: float = Field(20.0, ge=0, allow_inf_nan=False, description="Money per TB transferred out of "
                                              "the account's region or cloud (your rate sheet's).", json_schema_extra=_group("Cost and risk"))
    budget_monthly: float = Field(0.0, ge=0, allow_inf_nan=False, description="The account's budget per calendar month "
                                  "(UTC), in currency: billed credits of every service type at their prices, as the month-end "
                                  "forecast counts them (storage and transfer not included); 0: no budget.",
                                  json_schema_extra=_group("Cost and risk"))
    budget_by_warehouse: dict[str, float] = Field(
        default_factory=dict, description="Warehouse name -> its budget per calendar month in currency (metered credits "
        "x price_per_credit), e.g. BI_WH = 500.", json_schema_extra=_group("Cost and risk"))
    alert_spend_threshold: float = Field(0.0, ge=0, allow_inf_nan=False, description="`snowtower alerts`: a UTC day whose "
                                         "billed spend (credits of every service type at their prices) is above this "
                                         "amount in currency is an event; 0: off.", json_schema_extra=_group("Cost and risk"))
    alert_budget_shares: list[float] = Field(default_factory=lambda: [0.8, 1.0], description="`snowtower alerts`: shares "
                                             "of a monthly budget (budget_monthly, budget_by_warehouse) whose crossing by "
                                             "the month to date is an event, once per month and share.",
                                             json_schema_extra=_group("Cost and risk"))
    risk_warehouse_size_threshold: str = Field("LARGE", description="A warehouse request at this size or larger is flagged "
                                               "for reviewers.", json_schema_extra=_group("Cost and risk"))
    # --- notifications
    notify_slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook. Secret.",
                                                       json_schema_extra=_group("Notifications"))
    notify_slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (with notify_slack_channel). "
                                                     "Secret.", json_schema_extra=_group("Notifications"))
    notify_slack_channel: str = Field("", description="The channel the bot token posts to (chat.postMessage).",
                                      json_schema_extra=_group("Notifications"))
    notify_slack_api_url: str = Field("https://slack.com/api", description="Slack's Web API (GovSlack: "
                                      "https://slack-gov.com/api).", json_schema_extra=_group("Notifications"))
    notify_smtp_host: str = Field("", description="SMTP server for e-mail notifications; \"\": no e-mail.",
                                  json_schema_extra=_group("Notifications"))
    notify_smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.", json_schema_extra=_group("Notifications"))
    notify_smtp_tls: Literal["starttls", "ssl", "none"] = Field("starttls", description="starttls, ssl (TLS from the "
                                                                "start, port 465) or none (a local relay).",
                                                                json_schema_extra=_group("Notifications"))
    notify_smtp_user: str = Field("", description="SMTP login.", json_schema_extra=_group("Notifications"))
    notify_smtp_password: SecretStr | None = Field(None, description="SMTP password. Secret.",
                                                   json_schema_extra=_group("Notifications"))
    notify_smtp_from: str = Field("", description="Sender address of notifications.",
                                  json_schema_extra=_group("Notifications"))
    notify_timeout: float = Field(5.0, gt=0, le=120, description="Seconds per Slack request or SMTP command: a slow "
                                  "receiver is given up on.", json_schema_extra=_group("Notifications"))
    # --- expiry
    expiry_auto_approve: bool = Field(False, description="Removal requests opened by the expiry job are approved by "
                                      "SnowTower itself.", json_schema_extra=_group("Expiry"))
    grant_max_days: int = Field(365, ge=1, le=1096, description="The latest end date a time-bound grant may have, in "
                                "days from today (UTC); a later one is refused as a field error. Permanent access "
                                "is chosen explicitly instead.", json_schema_extra=_group("Expiry"))
    expiry_stale_days: int = Field(90, ge=1, le=3650, description="Users with no login for this many days are proposed "
                                   "for offboarding by `snowtower expire`.", json_schema_extra=_group("Expiry"))
    # --- access reviews
    access_unused_days: int = Field(90, ge=1, le=365, description="A business role none of whose own objects (those "
                                    "no other role of the user gives) was read or written in this many days is "
                                    "unused: shown on Security and in access reviews (ACCESS_HISTORY keeps 365).",
                                    json_schema_extra=_group("Access reviews"))
    role_owners: dict[str, str] = Field(default_factory=dict, description="Business role -> portal username of its "
                                        "owner, who reviews its grants in access reviews; a role without an owner "
                                        "goes to the approvers. Env: \"ANALYST=hcho,FINANCE_ANALYST=gadeyemi\".",
                                        json_schema_extra=_group("Access reviews"))
    # --- protected accounts
    protected_users: list[str] = Field(default_factory=list, description="Snowflake users no request may change: the "
                                       "user SnowDDL deploys with (and any other service users the deployment "
                                       "needs). Comma-separated in the environment.",
                                       json_schema_extra=_group("Protected accounts"))
    protected_roles: list[str] = Field(default_factory=list, description="Snowflake roles no request may change, grant "
                                       "or revoke: the roles the deploying user needs (e.g. its SnowDDL admin role). "
                                       "Comma-separated in the environment.", json_schema_extra=_group("Protected accounts"))

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # load_settings merges the sources itself (to name the source of each value); the model only
        # validates what it is given.
        return (init_settings,)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value, info):
        # pydantic takes true as 1: `required_approvals = true` must not quietly mean one approval.
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation is not bool:
            raise ValueError("wrong type: true/false is not a value of this setting")
        return value

    @field_validator("github_approvers", "github_users", "auth_group_roles", "sis_role_mapping", "role_owners", mode="before")
    @classmethod
    def _pairs(cls, value):
        if isinstance(value, str):  # from the environment: login=user,login2=user2
            pairs = [p.partition("=") for p in value.split(",") if p.strip()]
            if any(not sep or not v.strip() for _, sep, v in pairs):
                raise ValueError("must map keys to values: key=value,key2=value2")
            value = {k.strip(): v.strip() for k, _, v in pairs}
        return value

    @field_validator("protected_users", "protected_roles", mode="before")
    @classmethod
    def _names(cls, value):
        if isinstance(value, str):  # from the environment: NAME,NAME2
            value = [v for v in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of Snowflake object names")
        names = [v.strip().strip('"').upper() for v in value if v.strip()]
        bad = [n for n in names if not re.fullmatch(r"[A-Z_][A-Z0-9_$]*", n)]
        if bad:
            raise ValueError(f"must be Snowflake object names (letters, digits, _ and $), not {', '.join(map(repr, bad))}")
        return names

    @field_validator("github_approvers", "github_users")
    @classmethod
    def _approvers(cls, value: dict) -> dict:
        if not all(k and v for k, v in value.items()):
            raise ValueError("must map GitHub logins to portal usernames")
        from app.identity import GITHUB_LOGIN, is_namespaced, is_reserved

        bad = sorted(k for k in value if not GITHUB_LOGIN.fullmatch(str(k).strip()))
        if bad:
            raise ValueError(f"must map GitHub logins (letters, digits, hyphens), not {', '.join(map(repr, bad))}")
        names = sorted(str(v) for v in value.values() if is_reserved(str(v)) or is_namespaced(str(v)))
        if names:
            # Why: a job's roles are written in code, and github:x is a GitHub account: neither is a portal user.
            raise ValueError(f"must map to portal usernames, not {', '.join(map(repr, names))}")
        return {k.strip().lower(): v for k, v in value.items()}  # GitHub logins are case-insensitive

    @field_validator("role_owners")
    @classmethod
    def _role_owners(cls, value: dict) -> dict:
        out = {}
        for role, owner in value.items():
            name = str(role).strip().strip('"').upper()
            if not re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) or not str(owner).strip():
                raise ValueError("must map business role names to portal usernames: ROLE=username")
            out[name] = str(owner).strip()
        return out

    @field_validator("auth_group_roles", "sis_role_mapping")
    @classmethod
    def _roles(cls, value: dict) -> dict:
        bad = sorted({v for v in value.values() if v not in ROLES})
        if bad:
            raise ValueError(f"maps to portal roles ({', '.join(ROLES)}), not {', '.join(map(repr, bad))}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError(f"must be a three-letter ISO 4217 code such as USD or EUR, not {value!r}")
        return value.upper()

    @field_validator("price_per_credit_by_service")
    @classmethod
    def _service_prices(cls, value: dict[str, float]) -> dict[str, float]:
        out = {}
        for service, price in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", service):
                raise ValueError(f"{service!r} is not a service type such as SNOWPARK_CONTAINER_SERVICES")
            if not math.isfinite(price) or price < 0:
                raise ValueError(f"the price of {service} must be a finite amount of 0 or more, not {price!r}")
            out[service.upper()] = float(price)
        return out

    @field_validator("budget_by_warehouse", mode="before")
    @classmethod
    def _budget_pairs(cls, value):
        if isinstance(value, str):  # from the environment: BI_WH=500,LOADER_WH=200
            pairs = [p.partition("=") for p in value.split(",") if p.strip()]
            if any(not sep or not v.strip() for _, sep, v in pairs):
                raise ValueError("must map warehouses to amounts: BI_WH=500,LOADER_WH=200")
            value = {k.strip(): v.strip() for k, _, v in pairs}
        return value

    @field_validator("budget_by_warehouse")
    @classmethod
    def _budgets(cls, value: dict[str, float]) -> dict[str, float]:
        out = {}
        for name, amount in value.items():
            key = name.strip().strip('"').upper()
            if not re.fullmatch(r"[A-Z_][A-Z0-9_$]*", key):
                raise ValueError(f"{name!r} is not a warehouse name")
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"the budget of {key} must be a finite amount of 0 or more, not {amount!r}")
            out[key] = float(amount)
        return out

    @field_validator("alert_budget_shares", mode="before")
    @classmethod
    def _shares_text(cls, value):
        if isinstance(value, str):  # from the environment: 0.8,1.0
            value = [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("alert_budget_shares")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        bad = [v for v in value if not math.isfinite(v) or not 0 < v <= 10]
        if bad:
            raise ValueError(f"must be shares of the budget above 0 and at most 10 (0.8 is 80 %), not {', '.join(map(repr, bad))}")
        return sorted(set(float(v) for v in value))

    @field_validator("risk_warehouse_size_threshold")
    @classmethod
    def _size(cls, value: str) -> str:
        size = value.upper().replace("-", "")
        if size not in WAREHOUSE_SIZES:
            raise ValueError(f"must be a warehouse size ({', '.join(WAREHOUSE_SIZES)})")
        return size

    @field_validator("demo_query_rows")
    @classmethod
    def _rows(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("mode") != "demo":
            return value  # why: only the demo generates an account; outside it the demo stand-in (duckdb) may not be installed
        from core.snowflake.demo import MAX_QUERY_ROWS

        if value > MAX_QUERY_ROWS:
            raise ValueError(f"must be between 1 and {MAX_QUERY_ROWS:,}")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", value):
            raise ValueError("must be an http(s) URL such as https://tools.example.com/snowtower")
        return value.rstrip("/")

    @property
    def in_sis(self) -> bool:
        """Running as Streamlit in Snowflake (no workspace folder, no git binary)."""
        return self.runtime == "sis"

    @property
    def base_url_path(self) -> str:
        """The path of base_url without slashes ("snowtower"), for Streamlit's server.baseUrlPath."""
        return re.sub(r"^https?://[^/]+", "", self.base_url).strip("/")


# ------------------------------------------------------------------------------------------------------
# Sources: each gives the raw values it holds (unknown keys included, so they can be named) and its name.

class _Source(PydanticBaseSettingsSource):
    name = "source"

    def raw(self) -> dict[str, tuple[Any, str]]:
        """key -> (value, where it came from) for every key this source holds."""
        raise NotImplementedError

    def get_field_value(self, field, field_name):  # pydantic-settings' per-field API; raw() is used instead
        value = self.raw().get(field_name)
        return (value[0] if value else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        known = set(Settings.model_fields)
        return {k: v for k, (v, _) in self.raw().items() if k in known}


class WorkspaceTomlSource(_Source):
    """The `[snowtower]` table of `settings.toml` in the workspace."""

    def __init__(self, path: Path):
        super().__init__(Settings)
        self.path = path

    def raw(self) -> dict[str, tuple[Any, str]]:
        if not self.path.is_file():
            return {}
        where = str(self.path)
        if self.path.stat().st_size > MAX_SETTINGS_FILE_BYTES:
            raise SettingsError([Problem("settings.toml", where, "is larger than 1 MB: it cannot be a settings file")])
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError([Problem("settings.toml", where, f"is not valid TOML: {exc}")]) from None
        problems = [Problem(k, where, "unknown table: settings live in [snowtower]") for k in data if k != "snowtower"]
        table = data.get("snowtower", {})
        if not isinstance(table, dict):
            problems.append(Problem("snowtower", where, "must be a table ([snowtower])"))
            table = {}
        if problems:
            raise SettingsError(problems)
        return {k: (v, f"{where} [snowtower]") for k, v in table.items()}


class EnvironmentSource(_Source):
    """SNOWTOWER_<NAME> variables (empty values are ignored, as if unset)."""

    def __init__(self, environ: dict[str, str] | None = None):
        super().__init__(Settings)
        self.environ = os.environ if environ is None else environ

    def raw(self) -> dict[str, tuple[Any, str]]:
        out = {}
        for var, value in self.environ.items():
            if not var.startswith(ENV_PREFIX) or value == "":
                continue
            name = var[len(ENV_PREFIX):]
            if name in NOT_SETTINGS:
                continue
            out[name.lower() if name.isupper() else name] = (value, f"environment variable {var}")
        return out


_LEGACY_GITHUB_SECRETS = {"token": "github_token", "private_key": "github_app_private_key", "app_id": "github_app_id",
                          "installation_id": "github_installation_id"}


_SECRET_FIELDS = tuple(n for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation))


class StreamlitSecretsSource(_Source):
    """st.secrets `[snowtower]` (and the older `[github]` table), as the host gives them (`secrets`:
    app.host's SecretsSource, default the process's host: st.secrets in the portal, none in the command
    line); other tables ([connections], [auth]) belong to Streamlit and are not read here."""

    def __init__(self, secrets: SecretsSource = host_secrets):
        super().__init__(Settings)
        self.secrets = secrets

    def _secrets(self):
        return self.secrets()

    def raw(self) -> dict[str, tuple[Any, str]]:
        try:
            secrets = self._secrets()
            if secrets is None:
                return {}
            section = dict(secrets.get("snowtower", {}) or {})
            github = dict(secrets.get("github", {}) or {})
        except Exception:  # no secrets.toml at all: not a problem, the other sources still count
            return {}
        out = {k: (v, "st.secrets [snowtower]") for k, v in section.items()}
        # Streamlit in Snowflake's container runtime gives the app's SECRETS (snowflake.yml) as top-level keys.
        for name in _SECRET_FIELDS:
            try:
                value = secrets.get(name)
            except Exception:  # an unreadable secret: as if not given; the backend says what is missing
                value = None
            if isinstance(value, str) and value and name not in out:
                out[name] = (value, f"st.secrets {name}")
        for key, value in github.items():
            name = _LEGACY_GITHUB_SECRETS.get(key)
            if name is None:
                out[f"github.{key}"] = (value, "st.secrets [github]")
            elif value not in (None, "", 0) and name not in out:
                out[name] = (value, "st.secrets [github]")
        return out


class SecretsDataSource(StreamlitSecretsSource):
    """The secrets the portal will read, given as data (portal_secrets: its secrets.toml files read
    outside Streamlit), taken exactly as StreamlitSecretsSource takes st.secrets."""

    def __init__(self, data: dict):
        super().__init__()
        self.data = data

    def _secrets(self):
        return self.data


# ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with the settings: the key, where its value came from, and what is wrong."""
    key: str
    source: str
    message: str
    # False: the portal still starts without it (a page or a command that needs it says so); `snowtower
    # check` lists it all the same (check_setup).
    blocking: bool = True

    def __str__(self) -> str:
        return f"{self.key}: {self.message} (from {self.source})" if self.source else f"{self.key}: {self.message}"


class SettingsError(ValueError):
    """The settings cannot be used; `problems` lists every one (never a secret's value)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("SnowTower's settings are wrong:\n" + "\n".join(f"- {p}" for p in self.problems))


_TYPE_ERRORS = ("_parsing", "_type", "bool_", "int_from_float", "literal_error", "enum")


def _message(error: dict) -> str:
    text = error["msg"].removeprefix("Value error, ")
    if any(t in error["type"] for t in _TYPE_ERRORS):
        return f"wrong type: {text}"
    return text


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key.lower(), list(Settings.model_fields), n=1, cutoff=0.75)
    return f"unknown setting; did you mean {close[0]}?" if close else "unknown setting"


def inspect_settings(workspace: str | Path | None = None, environ: dict[str, str] | None = None,
                     secrets: bool = True, secrets_data: dict | None = None) -> tuple[Settings | None, list[Problem]]:
    """The settings and every problem with them: (Settings, []) when usable, else (None or the settings
    without the wrong values, [Problem, ...]). `environ` defaults to os.environ; `secrets`: read st.secrets
    when Streamlit runs this process; `secrets_data`: the content of the secrets instead (what
    portal_secrets() read from the portal's secrets.toml files), read as st.secrets would be."""
    env = os.environ if environ is None else environ
    root = Path(workspace or env.get("SNOWTOWER_WORKSPACE") or DEFAULT_WORKSPACE).expanduser().resolve()
    problems: list[Problem] = []
    secrets_layer = SecretsDataSource(secrets_data) if secrets_data is not None else StreamlitSecretsSource()
    layers = [WorkspaceTomlSource(APP_SETTINGS), WorkspaceTomlSource(root / "settings.toml"),
              *([secrets_layer] if secrets else []), EnvironmentSource(env)]  # lowest priority first
    values: dict[str, tuple[Any, str]] = {}
    for layer in layers:
        try:
            values.update(layer.raw())
        except SettingsError as exc:
            problems += exc.problems
    known = set(Settings.model_fields) - {"workspace"}
    for key, (_, source) in list(values.items()):
        if key not in known:
            problems.append(Problem(key, source, "is set by --workspace or SNOWTOWER_WORKSPACE only"
                                    if key == "workspace" else _suggest(key)))
            del values[key]
    given = {k: v for k, (v, _) in values.items()}
    # Defaults that follow from other choices (only where the key itself was not given):
    if given.get("runtime", "auto") == "auto":
        given["runtime"] = "sis" if in_snowflake() else "local"
    if given.get("github_repository") and "backend" not in given:
        given["backend"] = "github"
    if given.get("backend") == "github" and "mode" not in given:
        given["mode"] = "production"  # on GitHub the repository's workflows deploy, not the portal
    if given.get("runtime") == "sis" and "auth" not in given:
        given["auth"] = "sis"  # the viewer is Snowflake's signed-in user (st.user)
    if given.get("runtime") == "sis" and "audit_log" not in given:
        given["audit_log"] = "snowflake"  # no workspace database in Snowflake
    settings = None
    try:
        settings = Settings(workspace=root, **given)
    except ValidationError as exc:
        bad = set()
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "settings"
            bad.add(key)
            problems.append(Problem(key, values.get(key, (None, "the default"))[1], _message(error)))
        try:  # the remaining values, so that rules across settings are checked too
            settings = Settings(workspace=root, **{k: v for k, v in given.items() if k not in bad})
        except ValidationError:
            settings = None
    if settings is not None:
        problems += _rules(settings, values)
    return settings, problems


def _rules(s: Settings, values: dict[str, tuple[Any, str]]) -> list[Problem]:
    """Rules across settings; each problem names the key at fault and its source."""
    def source(key: str) -> str:
        return values.get(key, (None, "the default"))[1]

    out = []
    if s.backend == "github" and not s.github_repository:
        out.append(Problem("github_repository", source("backend"), "is needed by backend = github (OWNER/NAME)"))
    if s.github_repository and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", s.github_repository):
        out.append(Problem("github_repository", "", "must be OWNER/NAME"))
    if s.in_sis and s.backend != "github":
        out.append(Problem("backend", source("backend"), "Streamlit in Snowflake has no local git repository: "
                                                         "set backend = github and github_repository"))
    if s.in_sis and s.audit_log != "snowflake":
        out.append(Problem("audit_log", source("audit_log"), "Streamlit in Snowflake has no workspace database: "
                                                             "set audit_log = snowflake"))
    if s.auth == "sis" and not s.in_sis and s.mode != "demo":
        out.append(Problem("auth", source("auth"), "sis sign-in works only inside Streamlit in Snowflake, where "
                                                   "Snowflake names the viewer; on a server use local or oidc"))
    if s.in_sis and s.auth == "local":
        out.append(Problem("auth", source("auth"), "Streamlit in Snowflake has no users file (no workspace): set auth = "
                                                   "sis (the viewer's Snowflake roles) or oidc"))
    if s.github_app_id and not (s.github_app_private_key or s.github_app_private_key_path or s.github_secret_name
                                or s.backend != "github"):
        out.append(Problem("github_app_private_key", source("github_app_id"), "github_app_id needs the App's private key "
                                                                              "(github_app_private_key or _path)"))
    if s.github_app_private_key_path and not Path(s.github_app_private_key_path).expanduser().is_file():
        out.append(Problem("github_app_private_key_path", source("github_app_private_key_path"), "no such file"))
    # Why: whoever guesses a key signs request records (and their requester) on GitHub, or a signed-in cookie.
    # (A weak cookie key in the demo gives way to the users file's random one: app.identity.cookie_key.)
    for key in ("signing_key", "cookie_key") if s.mode != "demo" and s.auth == "local" else ("signing_key",):
        weak = weak_key(getattr(s, key).get_secret_value()) if getattr(s, key) else ""
        if weak:
            out.append(Problem(key, source(key), f"{weak} (a random value: openssl rand -hex 32)"))
    clash = sorted(k for k, v in s.github_users.items()
                   if k in s.github_approvers and str(s.github_approvers[k]).lower() != str(v).lower())
    if clash:
        # Why: one GitHub account is one person; two names for it would let it review as one and request as the other.
        out.append(Problem("github_users", source("github_users"), "maps " + ", ".join(clash) + " to another portal "
                           "user than github_approvers does; one GitHub login is one person"))
    if s.notify_slack_bot_token and not s.notify_slack_channel:
        out.append(Problem("notify_slack_channel", source("notify_slack_bot_token"),
                           "notify_slack_bot_token needs notify_slack_channel"))
    if s.notify_smtp_host and not s.notify_smtp_from:
        out.append(Problem("notify_smtp_from", source("notify_smtp_host"),
                           "notify_smtp_host needs notify_smtp_from (the sender address)"))
    return out


def weak_key(value: str) -> str:
    """Why `value` cannot sign anything SnowTower trusts (session cookies, request records), or "" when it
    can: shorter than MIN_SECRET_KEY characters, fewer than MIN_SECRET_DISTINCT different characters, a
    published example value, or a documentation placeholder still in angle brackets. Never quotes it."""
    if value.strip().lower() in PUBLISHED_KEYS:
        return "is a published example value"
    if "<" in value and ">" in value:
        return "is the placeholder from the documentation (<...>), not a key"
    if len(value) < MIN_SECRET_KEY:
        return f"has {len(value)} characters; it needs {MIN_SECRET_KEY} or more"
    if len(set(value)) < MIN_SECRET_DISTINCT:
        return f"repeats too few characters to be random (fewer than {MIN_SECRET_DISTINCT} different ones)"
    return ""


def load_settings(workspace: str | Path | None = None) -> Settings:
    """The settings of `workspace` (default $SNOWTOWER_WORKSPACE or ~/.snowtower/demo), from the
    environment, st.secrets and the workspace's settings.toml. Raises SettingsError (a ValueError)
    listing every problem: unknown keys, wrong types, values out of range, rules across settings."""
    settings, problems = inspect_settings(workspace)
    if problems:
        raise SettingsError(problems)
    return settings


def summary(settings: Settings) -> list[tuple[str, str]]:
    """(key, value as text) of every setting, secrets masked ("**********" when set, "" when not)."""
    out = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            text = "**********"
        elif value is None:
            text = ""
        elif isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        out.append((name, text))
    return out


def markdown() -> str:
    """docs/settings.md: every key of the schema by group, with its type, default and environment variable."""
    lines = ["# Settings", "",
             "Generated from `app/settings.py` by `python -m app.settings --markdown > docs/settings.md`; a test keeps "
             "it in step with the schema.", "",
             "Sources, highest first: the environment (`SNOWTOWER_<NAME>`), `st.secrets` table `[snowtower]` (when "
             "running in Streamlit; in Streamlit in Snowflake the app's secrets by name, e.g. `github_token`), the "
             "workspace's `settings.toml` table `[snowtower]`, and the app's own `snowtower.toml` (deployed with it "
             "into Streamlit in Snowflake from deploy/snowtower.toml). `snowtower check` and `snowtower serve` read the portal's "
             "`.streamlit/secrets.toml` files as the portal does. An unknown key, a wrong type or a value out of range stops SnowTower with a list "
             "of every problem, naming the key and the source; `snowtower check` prints the same. Secrets are never "
             "printed. Dictionaries are TOML tables (`[snowtower.github_approvers]`) or, in the environment, "
             "`key=value,key2=value2`.", ""]
    lines += requirements_markdown()
    groups: dict[str, list] = {}
    for name, info in Settings.model_fields.items():
        groups.setdefault((info.json_schema_extra or {}).get("group", "Other"), []).append((name, info))
    for group, items in groups.items():
        lines += [f"## {group}", "", "| key | type | default | environment | description |", "| --- | --- | --- | --- | --- |"]
        for name, info in items:
            kind = re.sub(r"\btyping\.|<class '([^']+)'>", r"\1", str(info.annotation)).replace("pathlib.", "")
            default = info.default_factory() if info.default_factory else info.default
            shown = "(none)" if default in (None, "") else str(default)
            text = (info.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | `{kind}` | `{shown}` | `SNOWTOWER_{name.upper()}` | {text} |")
        lines.append("")
    return "\n".join(lines)


def github_secrets(settings: Settings) -> dict:
    """The GitHub token or App private key: `github_token`, `github_app_private_key` (or the file at
    github_app_private_key_path); in Streamlit in Snowflake, the Snowflake secret named github_secret_name
    (sis_secret). Returns {"token", "private_key", "app_id", "installation_id"} (None where unset)."""
    token = settings.github_token.get_secret_value() if settings.github_token else None
    key = settings.github_app_private_key.get_secret_value() if settings.github_app_private_key else None
    if not key and settings.github_app_private_key_path:
        key = Path(settings.github_app_private_key_path).expanduser().read_text(encoding="utf-8")
    if not (token or key) and settings.github_secret_name:
        value = sis_secret(settings.github_secret_name)
        if settings.github_app_id:
            key = value
        else:
            token = value
    return {"token": token or None, "private_key": key or None, "app_id": settings.github_app_id or None,
            "installation_id": settings.github_installation_id or None}


def sis_secret(name: str) -> str | None:
    """A Snowflake secret given to the Streamlit app (SECRETS = ('name' = db.schema.secret)): the
    warehouse runtime reads it with `_snowflake.get_generic_secret_string`, the container runtime finds
    it in st.secrets (the host's secrets, app.host). None when neither has it."""
    try:
        import _snowflake  # type: ignore[import-not-found]  # only inside Snowflake

        return _snowflake.get_generic_secret_string(name) or None
    except ImportError:
        pass
    except Exception:  # the secret is not given to this app: the backend says credentials are missing
        return None
    try:
        source = host_secrets()  # the host's (app.host): st.secrets in the portal
        value = source.get(name) if source is not None else None
        return str(value) if value else None
    except Exception:  # no secrets at all
        return None


def signing_key(settings: Settings) -> bytes:
    """The key that signs request records kept on GitHub (core.changes.metadata.sign): the setting
    `signing_key` (environment SNOWTOWER_SIGNING_KEY or st.secrets [snowtower] signing_key), else a random
    key generated once into the workspace (`signing.key`, readable by its owner only). In Streamlit in
    Snowflake there is no workspace: the setting is required there. Never shown."""
    if settings.signing_key:
        return settings.signing_key.get_secret_value().encode("utf-8")
    if settings.in_sis:
        raise SettingsError([Problem("signing_key", "the default", "Streamlit in Snowflake has no workspace to keep a "
                                     "generated key: set signing_key in the app's secrets")])
    path = settings.workspace / "signing.key"
    if not path.is_file():
        _create_key_once(path)
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise SettingsError([Problem("signing_key", str(path), "the generated key file is empty (left by an interrupted "
                                     "start): delete it and start again, or set signing_key")])
    return key.encode("utf-8")


def _create_key_once(path: Path) -> None:
    """Write a random key to `path` unless it exists, atomically whatever runs at the same moment (several
    portal processes, the CLI, a job): the key is written whole to a temporary file of this process's
    own (mkstemp: a unique name, mode 0600), then hard-linked to `path`, which fails when `path` exists
    (link(2): EEXIST), so exactly one writer's key appears, never half of one, and every other process
    reads that one. A file system without hard links gets O_CREAT|O_EXCL (one winner too; a racer may
    then briefly read it empty, so the reader waits for its content)."""
    import secrets
    import tempfile
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
            return
        except FileExistsError:
            return  # another process won: its key is the key
        except OSError:
            pass  # no hard links here (some network and FUSE file systems)
    finally:
        os.unlink(tmp)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner writes 64 characters right after creating it
            if path.stat().st_size:
                return
            time.sleep(0.02)
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------------------------------------------
# What each mode needs: `snowtower check`, the portal's settings page and the Status page list the same.

# How Snowflake's connector signs in (connect()'s parameters); one of them, or an authenticator, is needed.
_SNOWFLAKE_AUTH_KEYS = ("password", "private_key", "private_key_file", "private_key_path", "token", "token_file_path")
_OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def secrets_files() -> list[Path]:
    """The secrets.toml files the portal reads, lowest priority first: Streamlit's default `secrets.files`
    (streamlit.config.get_config_files) for the portal as `snowtower serve` runs it, from REPO_ROOT:
    ~/.streamlit/secrets.toml, <REPO_ROOT>/.streamlit/secrets.toml, and beside the entry script
    <REPO_ROOT>/portal/.streamlit/secrets.toml. A later file's top-level tables replace an earlier one's."""
    return [Path.home() / ".streamlit" / "secrets.toml", REPO_ROOT / ".streamlit" / "secrets.toml",
            REPO_ROOT / "portal" / ".streamlit" / "secrets.toml"]


def portal_secrets(files: list[Path] | None = None) -> tuple[dict, list[Problem]]:
    """The secrets the portal reads, as a dict: st.secrets when this process serves the portal (the host's
    served_secrets, app.host), else the
    secrets.toml files (`files`, default secrets_files()) merged as Streamlit merges them (top-level keys,
    later files win). Returns (secrets, problems): a file that is not TOML, or larger than 1 MB, is a
    problem naming the file (never its content)."""
    if files is None:
        served = current_host().served_secrets()  # the portal's own process: exactly what its pages read
        if served is not None:
            return served, []
    merged: dict = {}
    problems: list[Problem] = []
    for path in secrets_files() if files is None else files:
        if not path.is_file():
            continue
        if path.stat().st_size > MAX_SETTINGS_FILE_BYTES:
            problems.append(Problem("secrets.toml", str(path), "is larger than 1 MB: it cannot be a secrets file"))
            continue
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(Problem("secrets.toml", str(path), f"is not valid TOML: {exc}"))
    return merged, problems


def _connections_toml(name: str) -> dict | None:
    """The connection the Snowflake connector itself would use when the secrets have none (Streamlit's
    SnowflakeConnection falls back to it): connections.toml in $SNOWFLAKE_HOME or ~/.snowflake, the
    connection `name`, or for "snowflake" the default one (SNOWFLAKE_DEFAULT_CONNECTION_NAME or "default")."""
    home = Path(os.environ.get("SNOWFLAKE_HOME") or Path.home() / ".snowflake").expanduser()
    path = home / "connections.toml"
    if not path.is_file() or path.stat().st_size > MAX_SETTINGS_FILE_BYTES:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if name == "snowflake":
        name = os.environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or "default"
    found = data.get(name)
    return found if isinstance(found, dict) else None


def snowflake_connection_params(settings: Settings, secrets: dict) -> tuple[dict | None, str]:
    """The portal's Snowflake connection parameters and where they are: the secrets' table
    [connections.<snowflake_connection>], else the connector's connections.toml (as Streamlit falls back).
    (None, "") when neither has it."""
    name = settings.snowflake_connection
    table = (secrets.get("connections") or {}).get(name) if isinstance(secrets.get("connections"), dict) else None
    if isinstance(table, dict) and table:
        return table, f"secrets.toml [connections.{name}]"
    found = _connections_toml(name)
    return (found, "the Snowflake connector's connections.toml") if found else (None, "")


def requirements(settings: Settings, secrets: dict) -> list[Problem]:
    """What the mode of `settings` needs that is missing or unusable, one Problem each: GitHub credentials
    (a token or an App), the cookie key of local sign-in, [auth] for oidc, the portal's Snowflake connection
    (secrets [connections.NAME]: account, user and a way to sign in), Streamlit in Snowflake's secrets
    (signing key, the GitHub secret), the first login. `secrets`: what the portal reads (portal_secrets).
    Wrong values are inspect_settings' (_rules); this names what is absent (no source: it is nowhere)."""
    s = settings
    out: list[Problem] = []
    if s.backend == "github" and not s.github_app_id and not s.github_token:
        secret = s.github_secret_name and (s.in_sis or secrets.get(s.github_secret_name))
        if not secret:
            where = ("the app's secret named by github_secret_name (snowflake.yml SECRETS)" if s.in_sis else
                     "SNOWTOWER_GITHUB_TOKEN or [snowtower] github_token in .streamlit/secrets.toml")
            out.append(Problem("github_token", "", "backend = github needs credentials: a "
                               f"token with contents and pull requests write ({where}), or a GitHub App "
                               "(github_app_id and github_app_private_key or _path)"))
        elif s.in_sis and in_snowflake() and not sis_secret(s.github_secret_name):
            out.append(Problem("github_secret_name", "", f"the app cannot read the secret "
                               f"{s.github_secret_name!r}: name it in the SECRETS of snowflake.yml and grant its "
                               "READ to the app's role (deploy/setup.sql)"))
    if s.in_sis and not s.signing_key:
        out.append(Problem("signing_key", "the default", "Streamlit in Snowflake has no workspace to keep a "
                           "generated key: set signing_key in the app's secrets"))  # as signing_key() says it
    if s.mode != "demo" and s.auth == "local" and not s.in_sis and not s.cookie_key:
        out.append(Problem("cookie_key", "", "outside the demo local sign-in needs a cookie key of "
                           f"{MIN_SECRET_KEY} random characters or more (openssl rand -hex 32) in SNOWTOWER_COOKIE_KEY "
                           "or [snowtower] cookie_key of .streamlit/secrets.toml"))
    if s.auth == "oidc":
        auth = secrets.get("auth") if isinstance(secrets.get("auth"), dict) else {}
        providers = [t for t in auth.values() if isinstance(t, dict)]
        missing = [k for k in ("redirect_uri", "cookie_secret") if not auth.get(k)]
        if not any(all(t.get(k) for k in _OIDC_PROVIDER_KEYS) for t in [auth, *providers]):
            missing += [k for k in _OIDC_PROVIDER_KEYS if not auth.get(k)]
        if missing:
            out.append(Problem("auth", "secrets.toml [auth]", "auth = oidc needs Streamlit's [auth] table in "
                               f".streamlit/secrets.toml; missing: {', '.join(missing)}"))
    if not s.in_sis and not (s.mode == "demo" and s.backend == "local"):
        name = s.snowflake_connection
        params, where = snowflake_connection_params(s, secrets)
        # Without it the cost and security pages cannot read the account; the audit log and the
        # viewer's roles need it to start at all.
        blocking = s.audit_log == "snowflake" or s.auth == "sis"
        if params is None:
            out.append(Problem(f"connections.{name}", "", f"the portal's Snowflake connection is missing: a "
                               f"[connections.{name}] table in .streamlit/secrets.toml with account, user and "
                               "private_key_file (key-pair) or password (SNOWFLAKE_* variables serve the command line "
                               "only)", blocking))
        else:
            missing = [k for k in ("account", "user") if not params.get(k)]
            if not params.get("authenticator") and not any(params.get(k) for k in _SNOWFLAKE_AUTH_KEYS):
                missing.append("private_key_file or password")
            if missing:
                out.append(Problem(f"connections.{name}", where, f"misses {', '.join(missing)}", blocking))
            key_file = params.get("private_key_file") or params.get("private_key_path")
            if isinstance(key_file, str) and key_file and not Path(key_file).expanduser().is_file():
                out.append(Problem(f"connections.{name}", where, f"private_key_file {key_file} does not exist", blocking))
    if s.mode != "demo" and s.auth == "local" and not s.in_sis and not (s.workspace / "auth.yaml").is_file():
        out.append(Problem("auth.yaml", "", "no logins yet: create the first admin with `snowtower users add LOGIN "
                           f"--role admin` ({s.workspace / 'auth.yaml'} does not exist)", blocking=False))  # as the portal's page says
    return out


# What each mode needs, for docs/settings.md: (mode, the settings that make it, [(item, what it is), ...]);
# a test runs check_setup on each mode's settings alone and expects exactly these items missing.
MODE_NEEDS: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = [
    ("demo (the default: no settings)", {}, []),
    ("production on a server, change requests on GitHub, local sign-in", {"github_repository": "acme/infra"}, [
        ("github_token", "a token with contents and pull requests write on the repository, or a GitHub App: "
                         "`github_app_id` with `github_app_private_key` or `github_app_private_key_path`"),
        ("cookie_key", "signs the sign-in cookies: 32 random characters or more (`openssl rand -hex 32`)"),
        ("connections.snowflake", "the portal's Snowflake connection: table `[connections.snowflake]` (or the name in "
                                  "`snowflake_connection`) of `.streamlit/secrets.toml` with `account`, `user` and "
                                  "`private_key_file` or `password`; the portal starts without it (the cost and "
                                  "security pages cannot read the account) unless `audit_log = \"snowflake\"`"),
        ("auth.yaml", "the first login: `snowtower users add LOGIN --role admin` (the portal starts and asks for it)"),
    ]),
    ("production on a server, local git repository", {"mode": "production"}, [
        ("cookie_key", "as above"), ("connections.snowflake", "as above"), ("auth.yaml", "as above"),
    ]),
    ("production on a server, sign-in by your identity provider (`auth = \"oidc\"`)",
     {"github_repository": "acme/infra", "github_token": "set", "auth": "oidc"}, [
        ("auth", "Streamlit's `[auth]` table in `.streamlit/secrets.toml`: `redirect_uri`, `cookie_secret`, and "
                 "`client_id`, `client_secret`, `server_metadata_url` (in `[auth]` or a provider's `[auth.NAME]`)"),
        ("connections.snowflake", "as above"),
    ]),
    ("Streamlit in Snowflake", {"runtime": "sis", "github_repository": "acme/infra"}, [
        ("github_token", "the app's secret `github_token` (snowflake.yml `secrets`), or the secret named by "
                         "`github_secret_name`"),
        ("signing_key", "the app's secret `signing_key` (no workspace keeps a generated one)"),
    ]),
]


def requirements_markdown() -> list[str]:
    """The "What each mode needs" section of docs/settings.md, from MODE_NEEDS."""
    lines = ["## What each mode needs", "",
             "`snowtower check` lists every item missing for the workspace's mode in one run (and the portal shows the "
             "same list on its settings page); `snowtower check --online` also reaches GitHub and Snowflake with them. "
             "Secrets go in the environment (`SNOWTOWER_<NAME>`) or in `.streamlit/secrets.toml` (`[snowtower]` "
             "table), never in the repository. The `SNOWFLAKE_*` variables are read by the command line only "
             "(`snowtower cost`, `plan --live`), never by the portal.", ""]
    for mode, example, needs in MODE_NEEDS:
        made = ", ".join(f"`{k} = \"{v}\"`" for k, v in example.items() if k != "github_token") or "nothing set"
        lines += [f"### {mode}", "", f"Selected by: {made}.", ""]
        lines += [f"- `{item}`: {what}" for item, what in needs] or ["Nothing: every setting has a working default."]
        lines.append("")
    return lines


def check_setup(workspace: str | Path | None = None, environ: dict[str, str] | None = None,
                secrets: dict | None = None) -> tuple[Settings | None, list[Problem]]:
    """Every missing or wrong item of the setup at once, for `snowtower check`, the portal's settings page
    and the Status page: the settings from every source the portal reads (`secrets`: default
    portal_secrets(), so the command line reads the portal's secrets.toml), their problems
    (inspect_settings) and what the mode needs (requirements). Returns (Settings or None, [Problem, ...]);
    a Problem with blocking = False lets the portal start."""
    problems: list[Problem] = []
    if secrets is None:
        secrets, problems = portal_secrets()
    settings, found = inspect_settings(workspace, environ, secrets_data=secrets)
    problems += found
    if settings is not None:
        problems += requirements(settings, secrets)
    return settings, problems


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown(), end="")
    else:
        print("usage: python -m app.settings --markdown", file=sys.stderr)
        sys.exit(2)
