"""The settings' schema: `Settings` (pydantic-settings; every key with its type, default, range, group and
description; immutable), the constants its rules use (roles, warehouse sizes, the limits of a secret
key), and `in_snowflake` (whether this process runs as Streamlit in Snowflake).
"""
from __future__ import annotations

import functools
import importlib.util
import math
import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.paths import DEFAULT_WORKSPACE, REPO_ROOT
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
