"""Passwords as SnowDDL stores them: Fernet tokens behind `!decrypt`, never plain text.

SnowDDL decrypts `password: !decrypt <token>` with the keys in SNOWFLAKE_CONFIG_FERNET_KEYS (comma-
separated, newest first; snowddl/fernet). SnowTower's policy is key-pair authentication, so no recipe
offers a password; this is the one place that may turn one into YAML, for a PERSON user who truly
needs one. The plain password never appears in a return value, message or log.
"""
from __future__ import annotations

import os

from cryptography.fernet import InvalidToken
from snowddl.fernet.wrapper import FernetWrapper

FERNET_KEYS_VAR = FernetWrapper.ENV_ENCRYPTION_KEYS  # SNOWFLAKE_CONFIG_FERNET_KEYS
MIN_PASSWORD_LENGTH = 14  # CIS Snowflake Foundations 1.5


class PasswordError(ValueError):
    pass


def _wrapper(keys: str | None) -> FernetWrapper:
    raw = keys if keys is not None else os.environ.get(FERNET_KEYS_VAR, "")
    if not raw.strip():
        raise PasswordError(f"{FERNET_KEYS_VAR} is not set: SnowDDL could not decrypt a password, so none is written.")
    try:
        return FernetWrapper(raw)
    except (ValueError, TypeError):
        raise PasswordError(f"{FERNET_KEYS_VAR} does not hold Fernet keys.") from None


def encrypt_password(password: str, keys: str | None = None) -> str:
    """`!decrypt <token>`: the YAML value of `password:` that SnowDDL decrypts with its keys (default:
    from the environment, as SnowDDL reads them)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password needs {MIN_PASSWORD_LENGTH} characters or more.")
    return "!decrypt " + _wrapper(keys).encrypt(password)


def can_decrypt(value: str, keys: str | None = None) -> bool:
    """True when `value` (`!decrypt <token>` or the bare token) opens with the keys (a pre-merge check)."""
    token = value.removeprefix("!decrypt").strip()
    try:
        _wrapper(keys).decrypt(token)
        return True
    except (InvalidToken, PasswordError, ValueError):
        return False
