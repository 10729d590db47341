"""The users file of local logins (`auth.yaml` in the workspace): bcrypt hashes, roles, a `disabled`
flag; written by `snowtower users ...` (`add_user`, `update_user`, each under a file lock, written
atomically), read by `read_users` (as streamlit-authenticator takes it). The demo's logins
(`ensure_demo_logins`, password DEMO_PASSWORD) are refused outside demo mode. Errors: `UsersFileError`
(missing or unusable file; never holds a hash), ValueError (a bad login, role or password).
"""
from __future__ import annotations

import os
import re
import secrets as _secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path

import yaml

from app.identity.github import is_namespaced
from app.identity.port import ROLES
from app.identity.system import is_reserved

DEMO_PASSWORD = "demo"
DEMO_USERS = {
    "requester": ("Riley", "Requester", ["requester"]),
    "approver": ("Avery", "Approver", ["requester", "approver"]),
    "admin": ("Ada", "Admin", ["requester", "approver", "admin"]),
}
COOKIE_NAME = "snowtower_auth"
LOGIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD = 12
MAX_USERS_FILE_BYTES = 1_000_000
MIN_COOKIE_KEY = 32  # characters (app.settings.MIN_SECRET_KEY)


class UsersFileError(ValueError):
    """The users file is missing or unusable; the message says what to do (never holds a hash)."""



def _write(path: Path, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)  # mode 0600, its own name
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(yaml.safe_dump(config, sort_keys=False))
        tmp.replace(path)  # atomic: a crash leaves the old file or the new one, never half of one
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _changing(path: Path):
    """Held while one change reads, edits and writes the users file: two `snowtower users` at once
    (two admins, a script) are serialized, so neither loses the other's login (an flock on a lock file
    beside it, released by the OS if the process dies)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _hash(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def new_users_file(users: dict) -> dict:
    """A users file's content: a fresh cookie key (48 random bytes) and `users` (login -> entry)."""
    return {"cookie": {"name": COOKIE_NAME, "key": _secrets.token_urlsafe(48), "expiry_days": 1},
            "credentials": {"usernames": users}}


def ensure_demo_logins(path: Path) -> bool:
    """Write the demo logins (password 'demo', bcrypt-hashed, marked `demo: true`) once; returns True if created."""
    if path.is_file():
        return False
    users = {}
    for username, (first, last, roles) in DEMO_USERS.items():
        users[username] = {
            "email": f"{username}@snowtower.example", "first_name": first, "last_name": last,
            "password": _hash(DEMO_PASSWORD), "roles": roles,
            "demo": True,  # refused outside demo mode (read_users)
        }
    _write(path, new_users_file(users))
    return True


def read_users(path: Path, mode: str = "demo") -> dict:
    """The users file as streamlit-authenticator takes it: {"cookie": {...}, "credentials": {"usernames":
    {login: {"password": bcrypt hash, "roles": [...], "disabled": bool, ...}}}}, logins lower-cased. A
    disabled login keeps its entry with roles [] (it cannot sign in); `stored_roles` keeps what it had.
    Outside demo mode the demo logins (marked `demo: true`) are left out; jobs' names always are.
    Raises UsersFileError if it is missing or unusable."""
    if not path.is_file():
        raise UsersFileError("no users file yet: create the first admin with `snowtower users add LOGIN --role admin`.")
    if path.stat().st_size > MAX_USERS_FILE_BYTES:
        raise UsersFileError("the users file is larger than 1 MB; it cannot be a list of logins.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise UsersFileError("the users file is not valid YAML" + (f" (line {line + 1})" if line is not None else "") + ".") from None
    if not isinstance(config, dict):
        raise UsersFileError("the users file must be a mapping with `cookie` and `credentials`.")
    cookie = config.get("cookie")
    if not isinstance(cookie, dict) or len(str(cookie.get("key") or "")) < MIN_COOKIE_KEY or not cookie.get("name"):
        raise UsersFileError("the users file needs cookie.name and a cookie.key of 32 characters or more.")
    users = (config.get("credentials") or {}).get("usernames") if isinstance(config.get("credentials"), dict) else None
    if not isinstance(users, dict):
        raise UsersFileError("the users file needs credentials.usernames (login -> password hash, roles).")
    kept = {}
    for login, entry in users.items():
        if not isinstance(entry, dict) or not str(entry.get("password") or "").startswith("$2"):
            continue  # an entry without a bcrypt hash can never sign in
        if mode != "demo" and entry.get("demo"):
            continue  # why: the demo's passwords are public
        if is_reserved(login):
            continue  # why: a job's roles come from code; a file entry must not sign anyone in as one
        if is_namespaced(login):
            continue  # why: `github:x` is whoever owns that GitHub account, never a login of this file
        roles = entry.get("roles") or []
        roles = [r for r in (roles if isinstance(roles, list) else []) if r in ROLES]
        disabled = entry.get("disabled") is True
        kept[str(login).lower()] = {
            "email": str(entry.get("email") or ""), "first_name": str(entry.get("first_name") or ""),
            "last_name": str(entry.get("last_name") or ""), "password": str(entry["password"]),
            "roles": [] if disabled else roles, "stored_roles": roles, "disabled": disabled,
        }
    expiry = cookie.get("expiry_days", 1)
    return {"cookie": {"name": str(cookie["name"]), "key": str(cookie["key"]),
                       "expiry_days": expiry if isinstance(expiry, (int, float)) else 1},
            "credentials": {"usernames": kept}}


def check_login(login: str) -> str:
    """The login lower-cased; ValueError when it is not one a person can have."""
    login = str(login).strip().lower()
    if not LOGIN_PATTERN.fullmatch(login):
        raise ValueError("a login is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.")
    if is_reserved(login):
        raise ValueError(f"{login} is the name of one of SnowTower's jobs; choose another login.")
    return login


def check_roles(roles: list[str]) -> list[str]:
    """The roles without repeats; ValueError when none is given or one is not a portal role."""
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ValueError(f"roles must be among {', '.join(ROLES)} (got {', '.join(bad) or 'none'}).")
    return list(dict.fromkeys(roles))


def add_user(path: Path, login: str, password: str, roles: list[str], *, name: str = "", email: str = "") -> None:
    """Add a login to the users file (creating it), or replace its password, roles, name and email (and
    enable it again). Raises ValueError on a bad login, role or password (MIN_PASSWORD characters or more,
    never 'demo')."""
    login, roles = check_login(login), check_roles(roles)
    if len(password) < MIN_PASSWORD or password == DEMO_PASSWORD:
        raise ValueError(f"the password must have {MIN_PASSWORD} characters or more.")
    hashed = _hash(password)  # slow on purpose: before the lock
    first, _, last = name.strip().partition(" ")
    with _changing(path):
        config = _raw(path, create=True)
        config["credentials"]["usernames"][login] = {"email": email.strip(), "first_name": first, "last_name": last,
                                                     "password": hashed, "roles": roles}
        _write(path, config)


def _raw(path: Path, create: bool = False) -> dict:
    """The users file as written (for changing one entry), or a new one when `create` and it is missing."""
    if not path.is_file():
        if not create:
            raise UsersFileError("no users file yet: create the first admin with `snowtower users add LOGIN --role admin`.")
        return new_users_file({})
    read_users(path)  # the same checks as sign-in: an unusable file is refused, not rewritten
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config["credentials"].get("usernames"), dict):
        config["credentials"]["usernames"] = {}
    return config


def update_user(path: Path, login: str, *, roles: list[str] | None = None, disabled: bool | None = None) -> dict:
    """Change one login's roles and/or its `disabled` flag; returns its entry as read_users gives it.
    Raises ValueError for a login that is not in the file or a bad role, UsersFileError for a bad file."""
    login = str(login).strip().lower()
    with _changing(path):
        config = _raw(path)
        users = config["credentials"]["usernames"]
        key = next((k for k in users if str(k).lower() == login), None)
        if key is None or not isinstance(users[key], dict):
            raise ValueError(f"{login[:100]} is not a login in the users file.")
        if roles is not None:
            users[key]["roles"] = check_roles(roles)
        if disabled is True:
            users[key]["disabled"] = True
        elif disabled is False:
            users[key].pop("disabled", None)
        _write(path, config)
    return read_users(path)["credentials"]["usernames"].get(login, {})
