"""The secrets SnowTower signs and connects with: `github_secrets` (the GitHub token or App key, from the
settings, a key file, or Streamlit in Snowflake's secret: `sis_secret`) and `signing_key` (the key that
signs request records: the setting, else one generated once into the workspace; SettingsError in
Streamlit in Snowflake without it).
"""
from __future__ import annotations

import os
from pathlib import Path

from app.host import host_secrets
from app.settings.problems import Problem, SettingsError
from app.settings.schema import Settings

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
