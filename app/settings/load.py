"""Reading the settings: `inspect_settings` (the settings and every problem with them, from the
sources, lowest priority first: the app's snowtower.toml, the workspace's settings.toml, the host's
secrets, the environment), `load_settings` (the same, raising SettingsError), the rules across settings
(`_rules`, `weak_key`: why a key cannot sign anything) and `summary` (every value as text, secrets masked).
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Mapping

from pydantic import SecretStr, ValidationError

from app.paths import DEFAULT_WORKSPACE
from app.settings.problems import Problem, SettingsError
from app.settings.schema import APP_SETTINGS, MIN_SECRET_DISTINCT, MIN_SECRET_KEY, PUBLISHED_KEYS, Settings, in_snowflake
from app.settings.sources import EnvironmentSource, SecretsDataSource, StreamlitSecretsSource, WorkspaceTomlSource

_TYPE_ERRORS = ("_parsing", "_type", "bool_", "int_from_float", "literal_error", "enum")


def _message(error: Mapping[str, Any]) -> str:
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
    env: Mapping[str, str] = os.environ if environ is None else environ
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
    if problems or settings is None:
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
