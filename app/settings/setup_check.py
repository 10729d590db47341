"""What each mode needs: `requirements` (what the settings' mode needs that is missing, one Problem
each), `check_setup` (every problem of the setup at once: `snowtower check`, the portal's settings page,
the Status page), the secrets the portal reads (`portal_secrets`, `secrets_files`), its Snowflake
connection (`snowflake_connection_params`) and the "What each mode needs" section of docs/settings.md
(`MODE_NEEDS`, `requirements_markdown`).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from app.host import current as current_host
from app.mode import Mode
from app.paths import REPO_ROOT
from app.settings.credentials import sis_secret
from app.settings.load import inspect_settings
from app.settings.problems import Problem
from app.settings.schema import MAX_SETTINGS_FILE_BYTES, MIN_SECRET_KEY, Settings, in_snowflake

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
        auth: dict = secrets["auth"] if isinstance(secrets.get("auth"), dict) else {}
        providers = [t for t in auth.values() if isinstance(t, dict)]
        missing = [k for k in ("redirect_uri", "cookie_secret") if not auth.get(k)]
        if not any(all(t.get(k) for k in _OIDC_PROVIDER_KEYS) for t in [auth, *providers]):
            missing += [k for k in _OIDC_PROVIDER_KEYS if not auth.get(k)]
        if missing:
            out.append(Problem("auth", "secrets.toml [auth]", "auth = oidc needs Streamlit's [auth] table in "
                               f".streamlit/secrets.toml; missing: {', '.join(missing)}"))
    if Mode.of(s).live_snowflake:
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
