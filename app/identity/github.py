"""GitHub logins as names: vouched for by a workflow rather than a sign-in, a GitHub login acts as
`github:<login>` (`github_name`), a namespace no provider signs anyone in under (`is_namespaced`),
unless the settings' `github_users` / `github_approvers` (`github_people`) map it to a portal user.
"""
from __future__ import annotations

import re
from typing import Mapping

from app.identity.port import _folded

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
