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

from app.paths import DEFAULT_WORKSPACE, EXAMPLE_CONFIG, REPO_ROOT
from app.settings.credentials import github_secrets, signing_key, sis_secret
from app.settings.docs import markdown
from app.settings.load import inspect_settings, load_settings, summary, weak_key
from app.settings.problems import Problem, SettingsError
from app.settings.schema import (
    APP_SETTINGS, ENV_PREFIX, MAX_SETTINGS_FILE_BYTES, MIN_SECRET_DISTINCT, MIN_SECRET_KEY, NOT_SETTINGS, PUBLISHED_KEYS,
    ROLES, WAREHOUSE_SIZES, Settings, in_snowflake,
)
from app.settings.setup_check import (
    MODE_NEEDS, check_setup, portal_secrets, requirements, requirements_markdown, secrets_files,
    snowflake_connection_params,
)
from app.settings.sources import EnvironmentSource, SecretsDataSource, StreamlitSecretsSource, WorkspaceTomlSource

__all__ = [
    "APP_SETTINGS", "DEFAULT_WORKSPACE", "ENV_PREFIX", "EXAMPLE_CONFIG", "MAX_SETTINGS_FILE_BYTES", "MIN_SECRET_DISTINCT",
    "MIN_SECRET_KEY", "MODE_NEEDS", "NOT_SETTINGS", "PUBLISHED_KEYS", "REPO_ROOT", "ROLES", "WAREHOUSE_SIZES",
    "EnvironmentSource", "Problem", "SecretsDataSource", "Settings", "SettingsError", "StreamlitSecretsSource",
    "WorkspaceTomlSource", "check_setup", "github_secrets", "in_snowflake", "inspect_settings", "load_settings",
    "markdown", "portal_secrets", "requirements", "requirements_markdown", "secrets_files", "signing_key",
    "sis_secret", "snowflake_connection_params", "summary", "weak_key",
]
