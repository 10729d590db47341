"""The sources settings are read from, each giving key -> (raw value, where it came from), unknown keys
included so they can be named: `WorkspaceTomlSource` (a settings.toml's `[snowtower]` table; raises
SettingsError for a file that is too large or not TOML), `EnvironmentSource` (SNOWTOWER_<NAME>),
`StreamlitSecretsSource` (the host's secrets, app.host: st.secrets `[snowtower]` and `[github]` in the
portal) and `SecretsDataSource` (the same from secrets given as data).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic_settings import PydanticBaseSettingsSource

from app.host import SecretsSource, host_secrets
from app.settings.problems import Problem, SettingsError
from app.settings.schema import ENV_PREFIX, MAX_SETTINGS_FILE_BYTES, NOT_SETTINGS, Settings

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

    def __init__(self, environ: Mapping[str, str] | None = None):
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
            legacy = _LEGACY_GITHUB_SECRETS.get(key)
            if legacy is None:
                out[f"github.{key}"] = (value, "st.secrets [github]")
            elif value not in (None, "", 0) and legacy not in out:
                out[legacy] = (value, "st.secrets [github]")
        return out


class SecretsDataSource(StreamlitSecretsSource):
    """The secrets the portal will read, given as data (portal_secrets: its secrets.toml files read
    outside Streamlit), taken exactly as StreamlitSecretsSource takes st.secrets."""

    def __init__(self, data: dict):
        super().__init__()
        self.data = data

    def _secrets(self):
        return self.data
