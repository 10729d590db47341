"""Passwords as SnowDDL stores them: Fernet tokens behind `!decrypt`, never plain text.

SnowDDL decrypts `password: !decrypt <token>` with the keys in SNOWFLAKE_CONFIG_FERNET_KEYS (comma-
separated, newest first; see snowddl/fernet). SnowTower's own policy is key-pair authentication, so
no recipe offers a password today; this is the one place that may turn one into YAML, for a PERSON
user who truly needs one. The plain password never appears in a return value, message or log.
"""
from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken

FERNET_KEYS_VAR = "SNOWFLAKE_CONFIG_FERNET_KEYS"  # the variable SnowDDL reads the keys from
MIN_PASSWORD_LENGTH = 14  # CIS Snowflake 1.5


class PasswordError(ValueError):
    pass


def _primary_key(keys: str | None) -> Fernet:
    raw = keys if keys is not None else os.environ.get(FERNET_KEYS_VAR, "")
    first = next((k.strip() for k in raw.split(",") if k.strip()), "")
    if not first:
        raise PasswordError(f"{FERNET_KEYS_VAR} is not set: SnowDDL could not decrypt the password, so none is written.")
    try:
        return Fernet(first)
    except (ValueError, TypeError):
        raise PasswordError(f"the first key in {FERNET_KEYS_VAR} is not a Fernet key.") from None


def encrypt_password(password: str, keys: str | None = None) -> str:
    """The Fernet token of `password` with the first of SnowDDL's keys (default: from the environment)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password needs {MIN_PASSWORD_LENGTH} characters or more.")
    return _primary_key(keys).encrypt(password.encode("utf-8")).decode("ascii")


def decrypt_yaml_line(token: str) -> str:
    """The YAML value for user.yaml: `!decrypt <token>` (a tag SnowDDL's loader understands)."""
    if not token.startswith("gAAAA"):
        raise PasswordError("not a Fernet token.")
    return f"!decrypt {token}"


def check_token(token: str, keys: str | None = None) -> bool:
    """True when one of the keys decrypts the token (for tests and a pre-merge sanity check)."""
    raw = keys if keys is not None else os.environ.get(FERNET_KEYS_VAR, "")
    for k in (k.strip() for k in raw.split(",") if k.strip()):
        try:
            Fernet(k).decrypt(token.encode("ascii"))
            return True
        except (InvalidToken, ValueError):
            continue
    return False
