"""The identity port: who may act, and with which portal roles *now*.

Every operation re-reads its actor's roles through `Services.identity` (app.operations.shared.audited), so
a login disabled or demoted after sign-in is refused even if the page still shows the button; an
operation never takes a role from a form, from the Actor a page passed in, or from the session.

`Identity` is the port; its providers, chosen by the setting `auth`:
- `LocalLogins` (auth = local): the users file (`auth.yaml` in the workspace: bcrypt hashes, roles,
  a `disabled` flag), written by `snowtower users ...`, read again whenever it changes;
- `Oidc` (auth = oidc): `st.login` against the identity provider in secrets `[auth]`; roles from a
  group claim, through the mapping `auth_group_roles` (group -> portal role);
- `Sis` (auth = sis): Streamlit in Snowflake; the viewer is `st.user`, the roles are the viewer's
  Snowflake roles, inherited ones included, through `sis_role_mapping` (e.g. SNOWTOWER_ADMIN -> admin;
  SnowDDL's business role SNOWTOWER_ADMIN__B_ROLE maps alike).
Jobs act as `SYSTEM_ACTORS` (e.g. `snowtower-expiry`), whose roles come from this code, never a
file, a claim or a grant: `with_system` puts them in front of any provider, and no provider will
sign anyone in under those names. GitHub logins, vouched for by a workflow rather than a sign-in, are
`github:<login>` (`github_name`), a namespace no provider signs anyone in under; only the settings'
`github_users` / `github_approvers` make one act as a portal user. Nothing here imports Streamlit at
import time, and streamlit-authenticator is imported only by portal.auth, for local logins.
"""
from __future__ import annotations

import json
import os
import re
import secrets as _secrets
import sys
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Protocol, runtime_checkable

import yaml

from core.changes.model import Actor
from core.lockout import Lockout
from core.workspace import Workspace

ROLES = ("requester", "approver", "admin")
# A portal role and the roles it implies (an approver may also request; an admin may do everything).
IMPLIED = {"requester": ("requester",), "approver": ("requester", "approver"), "admin": ("requester", "approver", "admin")}
# Jobs' identities, roles from code. The command line (an operator with the workspace on the server)
# acts as snowtower-cli; the expiry job as snowtower-expiry, its auto-approval as snowtower-expiry-policy;
# a failed deployment's revert request is opened as snowtower-deploy.
SYSTEM_ACTORS: dict[str, tuple[str, ...]] = {
    "snowtower-cli": ("requester", "approver", "admin"),
    "snowtower-expiry": ("requester",),
    # approves the expiry job's revokes when settings.expiry_auto_approve is on (app/jobs/expire.py)
    "snowtower-expiry-policy": ("approver",),
    # opens the revert of a change whose deployment failed (app/operations/revert.py); it never reviews
    "snowtower-deploy": ("requester",),
}

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
MAX_CLAIM = 200  # characters kept of a claim used as a name


class UsersFileError(ValueError):
    """The users file is missing or unusable; the message says what to do (never holds a hash)."""


class SetupError(ValueError):
    """Sign-in cannot be offered as configured (e.g. no usable cookie key); the message says what to set."""


@runtime_checkable
class Identity(Protocol):
    """Who is who. `kind`: local | oidc | sis | system."""
    kind: str

    def roles_of(self, username: str) -> frozenset[str]:
        """The portal roles `username` holds now (subset of ROLES); empty when unknown, disabled or unreadable."""

    def actor(self, username: str) -> Actor | None:
        """`username` as an Actor with its roles now; None when it may not act (unknown, disabled, no role)."""


def _folded(name: str) -> str:
    """`name` as it reads: NFKC (full-width letters are letters), invisible format characters (zero-width
    spaces and joiners, soft hyphens) dropped, case folded, outer spaces stripped."""
    text = unicodedata.normalize("NFKC", str(name))
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip().casefold()


def is_reserved(username: str) -> bool:
    """True for the jobs' names, and for names that read as one (case, full-width letters, invisible
    characters): nobody signs in, or is vouched for, as one."""
    return _folded(username) in SYSTEM_ACTORS


# Names vouched for by a workflow, not by a sign-in: a GitHub login is `github:<login>` (lower case), never
# a portal login (no provider signs anyone in under a name in this namespace), unless a mapping in the
# settings (`github_users`, `github_approvers`: GitHub login -> portal username) says whose it is.
GITHUB_NAMESPACE = "github:"
# A GitHub login: letters, digits and hyphens, not starting with a hyphen, at most 39 characters (new
# logins may not repeat or end with a hyphen, older ones may); apps act as `<slug>[bot]`.
GITHUB_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:\[bot\])?")


def is_namespaced(name: str) -> bool:
    """True for a name in a namespace of names vouched for by a workflow (`github:...`), read as
    `is_reserved` reads (case, full-width letters, invisible characters): no provider signs anyone in
    under one; only `Vouched` gives one a role."""
    return _folded(name).startswith(GITHUB_NAMESPACE)


def github_name(login: str, people: Mapping[str, str] | None = None) -> str:
    """The name GitHub login `login` acts under: the portal username `people` (GitHub login, lower case
    -> portal username: settings.github_users and github_approvers, see `github_people`) maps it to,
    else `github:<login>` (lower case: GitHub logins are case-insensitive). ValueError when `login` is
    not a GitHub login."""
    login = str(login).strip()
    if not GITHUB_LOGIN.fullmatch(login):
        raise ValueError(f"{login[:100]!r} is not a GitHub login (letters, digits and hyphens, at most 39 characters).")
    mapped = (people or {}).get(login.lower())
    return str(mapped).strip().lower() if mapped else GITHUB_NAMESPACE + login.lower()


def github_people(settings) -> dict[str, str]:
    """GitHub login (lower case) -> portal username, from the settings `github_users` and
    `github_approvers` (app.settings refuses a login the two map to different users)."""
    return {**dict(getattr(settings, "github_users", {}) or {}), **dict(settings.github_approvers or {})}


def _expand(roles: Iterable[str]) -> frozenset[str]:
    return frozenset(r for role in roles if role in IMPLIED for r in IMPLIED[role])


def _mapped(values: Iterable[str], mapping: Mapping[str, str]) -> frozenset[str]:
    """Portal roles of `values` (groups or Snowflake roles; compared case-insensitively) through `mapping`."""
    table = {str(k).casefold(): v for k, v in mapping.items()}
    return _expand(table[str(v).casefold()] for v in values if str(v).casefold() in table)


# -- local logins: the users file ---------------------------------------------------------------------

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


def _actor(username: str, entry: dict) -> Actor:
    name = f"{entry.get('first_name', '')} {entry.get('last_name', '')}".strip()
    return Actor(username=username, name=name or username, email=entry.get("email", ""), roles=tuple(entry["roles"]))


@dataclass
class LocalLogins:
    """Logins from the users file `path`; `mode` "demo" admits the demo logins. The file is parsed again
    whenever it changes (mtime, size); unreadable or missing: nobody has a role."""
    path: Path
    mode: str = "demo"
    lockout: Lockout | None = None
    kind: str = "local"
    _seen: dict = field(default_factory=dict, repr=False)

    def users(self) -> dict:
        """login -> entry (see read_users). Raises UsersFileError."""
        st = self.path.stat() if self.path.is_file() else None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino) if st else None
        if stamp is None or self._seen.get("stamp") != stamp:
            users = read_users(self.path, self.mode)["credentials"]["usernames"]
            self._seen.update(stamp=stamp, users=users)
        return self._seen["users"]

    def entry(self, username: str) -> dict | None:
        try:
            return self.users().get(str(username).strip().lower())
        except (OSError, UsersFileError):
            return None

    def roles_of(self, username: str) -> frozenset[str]:
        entry = self.entry(username)
        return frozenset(entry["roles"]) if entry else frozenset()

    def actor(self, username: str) -> Actor | None:
        entry = self.entry(username)
        return _actor(str(username).strip().lower(), entry) if entry and entry["roles"] else None


# -- OIDC (st.login) ----------------------------------------------------------------------------------

def streamlit_user() -> dict:
    """The claims of the viewer signed in to this Streamlit session (st.user); {} outside Streamlit or signed out."""
    if "streamlit" not in sys.modules:
        return {}
    try:
        import streamlit as st

        user = st.user.to_dict()
    except Exception:  # no script run context (a job), or no user info
        return {}
    return dict(user) if user else {}


def _claim_name(claims: Mapping, keys=("preferred_username", "email", "user_name", "sub")) -> str:
    for key in keys:
        if key == "email" and claims.get("email_verified") is False:
            continue  # why: an address the provider did not verify is whatever the account typed (nOAuth)
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()[:MAX_CLAIM]
    return ""


MAX_GROUPS = 1000  # groups read from one claim (Entra ID sends at most 200 in a JWT)
MAX_GROUPS_TEXT = 65_536  # characters of a group claim sent as one string, read at most


def claim_groups(value) -> list[str]:
    """The group names a group claim's value holds, each compared whole (never split on spaces or
    commas: "Finance approvers" is one group, not "approvers"):
    - a JSON array (what Okta, Entra ID and Keycloak send): its strings, each one group;
    - a string: one group, or, when it is itself a JSON array of strings ('["a", "b"]', as some
      providers and proxies flatten it), those;
    - anything else (a number, an object, an absent claim): no group.
    At most MAX_GROUPS groups; a string longer than MAX_GROUPS_TEXT characters is no group."""
    if isinstance(value, str):
        if len(value) > MAX_GROUPS_TEXT:
            return []
        if value.lstrip().startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                value = parsed
        if isinstance(value, str):
            return [value] if value.strip() else []
    if not isinstance(value, (list, tuple)):
        return []
    return [g for g in value[:MAX_GROUPS] if isinstance(g, str) and g.strip()]


def overage(claims: Mapping, group_claim: str = "groups") -> bool:
    """True when the provider left the group claim out because the person is in too many groups and
    pointed elsewhere instead (Entra ID's group overage: `_claim_names` naming the claim, or `hasgroups`
    in the implicit flow): the groups are then unknown here, not absent."""
    names = claims.get("_claim_names")
    return bool(claims.get("hasgroups")) or (isinstance(names, Mapping) and group_claim in names)


def oidc_subject(claims: Mapping) -> str:
    """Who the identity provider says signed in, as it vouches for it: `oidc:<iss>#<sub>` (the subject
    is unique and never reassigned only within its issuer; OIDC Core 1.0 §2; an issuer URL has no `#`).
    Never an e-mail, a display name or a username the person could have typed. "" without `sub`."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        return ""
    iss = claims.get("iss")
    iss = iss.strip() if isinstance(iss, str) else ""
    return f"oidc:{iss[:MAX_CLAIM]}#{sub.strip()[:255]}"  # sub: at most 255 ASCII characters (OIDC Core 1.0)


@dataclass
class Oidc:
    """Sign-in through `st.login` (OIDC; secrets `[auth]`). The username is the claim
    preferred_username, else email (unless email_verified is false), else sub (lower-cased); the roles are the groups in claim `group_claim`
    mapped through `group_roles` (group -> requester | approver | admin). An identity provider has no
    directory here: roles are those of the signed-in session's claims (`claims()`, default st.user), so
    a job or another session asking for this login gets none."""
    group_roles: Mapping[str, str]
    group_claim: str = "groups"
    claims: Callable[[], Mapping] = streamlit_user
    kind: str = "oidc"

    def roles_from(self, claims: Mapping) -> frozenset[str]:
        """The portal roles of the groups `claim_groups` reads from claim `group_claim`: a group gives its
        role only when a whole group name equals a key of `group_roles` (case aside)."""
        return _mapped(claim_groups(claims.get(self.group_claim)), self.group_roles)

    def actor_from(self, claims: Mapping) -> Actor | None:
        """The signed-in person of `claims` (None: not signed in, no usable name, a job's name, a name in
        the `github:` namespace, or no role)."""
        if not claims or claims.get("is_logged_in") is False:
            return None
        username = _claim_name(claims)
        roles = self.roles_from(claims)
        if not username or is_reserved(username) or is_namespaced(username) or not roles:
            return None
        name = str(claims.get("name") or username)[:MAX_CLAIM]
        email = str(claims.get("email") or "")[:MAX_CLAIM]
        return Actor(username, name, email, tuple(r for r in ROLES if r in roles))

    def actor(self, username: str) -> Actor | None:
        actor = self.actor_from(self.claims())
        return actor if actor and actor.username == str(username).strip().lower() else None

    def roles_of(self, username: str) -> frozenset[str]:
        actor = self.actor(username)
        return frozenset(actor.roles) if actor else frozenset()


# -- Streamlit in Snowflake ---------------------------------------------------------------------------

def snowflake_roles_from(source_factory: Callable[[], object]) -> Callable[[str], list[str]]:
    """`roles(user_name) -> [Snowflake role]`: every role that Snowflake user holds, inherited ones included
    (granted to the user, then granted to those roles, ...: SnowDDL grants business roles to the user role
    <USER>__U_ROLE), asked through the query layer (question viewer_roles: ACCOUNT_USAGE.GRANTS_TO_USERS and
    GRANTS_TO_ROLES, up to 2 hours late) on the source `source_factory()` gives. A failed query: []."""
    def roles(user_name: str) -> list[str]:
        from core.snowflake.queries import QueryError, ask

        try:
            frame = ask(source_factory(), "viewer_roles", user_name=str(user_name).upper()[:MAX_CLAIM])
        except QueryError:
            return []
        return [str(r) for r in frame["ROLE"].tolist()] if "ROLE" in frame.columns else []
    return roles


BUSINESS_ROLE_SUFFIX = "__B_ROLE"  # SnowDDL names business role X `<env prefix>X__B_ROLE` (snowddl.config)


def snowddl_role_mapping(mapping: Mapping[str, str], env_prefix: str = "") -> dict[str, str]:
    """`mapping` (Snowflake role -> portal role) with, for each role, the name SnowDDL gives a business
    role of that name (`<env_prefix><ROLE>__B_ROLE`): SnowTower's roles may be created by setup.sql or
    managed as business roles in the SnowDDL config it edits. A name given in the mapping wins."""
    out = {}
    for role, portal_role in mapping.items():
        name = str(role)
        if not name.upper().endswith(BUSINESS_ROLE_SUFFIX):
            out.setdefault(f"{env_prefix}{name}{BUSINESS_ROLE_SUFFIX}".upper(), portal_role)
    out.update({str(k).upper(): v for k, v in mapping.items()})
    return out


SIS_NAME = ("user_name",)  # st.user in Streamlit in Snowflake: the Snowflake user (an e-mail on a profile is not one)


@dataclass
class Sis:
    """Streamlit in Snowflake: the viewer is `user()` (st.user: user_name, email), the roles are the
    viewer's Snowflake roles (`snowflake_roles(user_name)`) through `role_mapping` (Snowflake role ->
    portal role, compared case-insensitively). Asked again for every operation, so a revoked grant
    demotes the viewer at the next click (within the grant view's latency)."""
    role_mapping: Mapping[str, str]
    snowflake_roles: Callable[[str], Iterable[str]]
    user: Callable[[], Mapping] = streamlit_user
    kind: str = "sis"

    def roles_of(self, username: str) -> frozenset[str]:
        username = str(username).strip().lower()
        if not username or is_reserved(username) or is_namespaced(username):
            return frozenset()
        return _mapped(self.snowflake_roles(username), self.role_mapping)

    def actor(self, username: str) -> Actor | None:
        roles = self.roles_of(username)
        if not roles:
            return None
        claims = self.user()
        same = _claim_name(claims, SIS_NAME) == str(username).strip().lower()
        name = str(claims.get("name") or username)[:MAX_CLAIM] if same else str(username)
        email = str(claims.get("email") or "")[:MAX_CLAIM] if same else ""
        return Actor(str(username).strip().lower(), name, email, tuple(r for r in ROLES if r in roles))

    def viewer(self) -> Actor | None:
        """The viewer of this session (st.user) with their roles now; None when st.user names nobody."""
        username = _claim_name(self.user(), SIS_NAME)
        return self.actor(username) if username else None


# -- jobs ---------------------------------------------------------------------------------------------

@dataclass
class WithSystem:
    """`people` (any provider) with the jobs' identities in front: SYSTEM_ACTORS' roles come from code."""
    people: Identity

    @property
    def kind(self) -> str:
        return self.people.kind

    def roles_of(self, username: str) -> frozenset[str]:
        name = str(username).strip().lower()
        if name in SYSTEM_ACTORS:
            return _expand(SYSTEM_ACTORS[name])
        return self.people.roles_of(username)

    def actor(self, username: str) -> Actor | None:
        name = str(username).strip().lower()
        if name in SYSTEM_ACTORS:
            return system_actor(name)
        return self.people.actor(username)


@dataclass
class Vouched:
    """`people` plus one requester vouched for by whoever runs `snowtower request --submit` (the operator
    with the workspace naming SNOWTOWER_USER, or the access-request workflow naming the issue's author,
    a GitHub login, as `github:<login>` through `github_name`): `username` may submit (role requester)
    though no provider knows it, unless its local login is disabled. A job's name (is_reserved) has no
    role here: a GitHub account may be called snowtower-cli. Everyone else is as `people` says."""
    people: Identity
    username: str

    @property
    def kind(self) -> str:
        return self.people.kind

    def _vouched(self, username: str) -> bool:
        name = str(username).strip().lower()
        if name != self.username.strip().lower() or not name or is_reserved(name):
            return False
        inner = getattr(self.people, "people", self.people)
        entry = inner.entry(name) if isinstance(inner, LocalLogins) else None
        return not (entry and entry["disabled"])  # why: a disabled login submits nothing, by any way

    def roles_of(self, username: str) -> frozenset[str]:
        if is_reserved(username):
            return frozenset()  # why: a job's roles are for the job; a name typed into SNOWTOWER_USER is not it
        roles = self.people.roles_of(username)
        if roles or not self._vouched(username):
            return roles
        return frozenset({"requester"})

    def actor(self, username: str) -> Actor | None:
        if is_reserved(username):
            return None
        actor = self.people.actor(username)
        if actor or not self._vouched(username):
            return actor
        name = str(username).strip().lower()
        return Actor(name, name, "", ("requester",))


def system_actor(name: str) -> Actor:
    """The Actor a job acts as (KeyError for a name not in SYSTEM_ACTORS)."""
    return Actor(name, name, "", tuple(r for r in ROLES if r in _expand(SYSTEM_ACTORS[name])))


def identity_for(settings, snowflake_source: Callable[[], object] | None = None) -> WithSystem:
    """The provider that `settings.auth` names, behind the jobs' identities. `snowflake_source` makes
    the query source the SiS provider asks for the viewer's Snowflake roles."""
    if settings.auth == "oidc":
        people: Identity = Oidc(dict(settings.auth_group_roles), settings.auth_group_claim)
    elif settings.auth == "sis":
        if snowflake_source is None:
            raise SetupError("auth = sis needs a Snowflake connection to read the viewer's roles.")
        people = Sis(snowddl_role_mapping(settings.sis_role_mapping, settings.env_prefix), snowflake_roles_from(snowflake_source))
    else:
        people = LocalLogins(Workspace(settings.workspace).auth_path, settings.mode, lockout_for(settings))
    return WithSystem(people)


def lockout_for(settings) -> Lockout:
    """The sign-in lock-out of a workspace's settings (its counts live in the workspace database)."""
    return Lockout(Workspace(settings.workspace).db_path, settings.signin_max_attempts, settings.signin_lockout_minutes)


def _secret(env: str, section: str, key: str) -> str:
    value = os.environ.get(env)
    if not value and "streamlit" in sys.modules:
        try:
            import streamlit as st

            value = dict(st.secrets.get(section, {})).get(key)
        except Exception:  # no secrets.toml
            value = None
    return str(value or "")


def cookie_key(settings, file_key: str = "") -> str:
    """The key that signs local logins' session cookies: environment SNOWTOWER_COOKIE_KEY, then
    st.secrets [snowtower] cookie_key. In the demo, the users file's own random key may stand in.
    Raises SetupError outside the demo when the key is missing or guessable (app.settings.weak_key: a
    published default, a placeholder, shorter than MIN_COOKIE_KEY characters or too few different ones; a
    guessable key lets anyone forge a signed-in cookie)."""
    key = settings.cookie_key.get_secret_value() if getattr(settings, "cookie_key", None) else ""
    key = key or _secret("SNOWTOWER_COOKIE_KEY", "snowtower", "cookie_key")  # set after the settings were read
    from app.settings import weak_key

    weak = weak_key(key)
    if settings.mode == "demo":
        return file_key if weak else key
    if not key:
        raise SetupError("no cookie key: set [snowtower] cookie_key in the secrets (or SNOWTOWER_COOKIE_KEY) "
                         f"to a random value of {MIN_COOKIE_KEY} characters or more.")
    if weak:
        raise SetupError(f"the cookie key {weak}: set [snowtower] cookie_key in the secrets (or SNOWTOWER_COOKIE_KEY) "
                         f"to a random value of {MIN_COOKIE_KEY} characters or more.")
    return key


# System actors of the jobs (moved from app/operations/expire.py)
# The job's own audit identity: it requests, never reviews. Role "system": no page lets it sign in.
EXPIRY_ACTOR = Actor("snowtower-expiry", "SnowTower expiry job", "snowtower-expiry@snowtower.local", ("system",))
# Who approves an expiry revoke when settings.expiry_auto_approve is on: a second system identity, so the
# record says it was the policy (not a person, and never the requester) that approved it.
POLICY_ACTOR = Actor("snowtower-expiry-policy", "SnowTower expiry policy (expiry_auto_approve)",
                     "snowtower-expiry-policy@snowtower.local", ("system", "approver"))
# The deployment's identity: it opens the revert of a change whose deployment failed (moved from
# app/operations/revert.py); it never reviews.
DEPLOY_ACTOR = Actor("snowtower-deploy", "SnowTower deployment", "snowtower-deploy@snowtower.local", ("system",))
