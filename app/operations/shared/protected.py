"""Protected accounts: the Snowflake user SnowDDL deploys with and the roles it needs (settings
`protected_users`, `protected_roles`). A request whose change would touch one of them is refused at
preview, so it is never submitted, approved or merged: a request that drops, alters or re-grants the
deploying account would break (or take over) every later deployment.

"Touch" is read from SnowDDL's own plan of the change (offline, the one the preview shows): every
statement that names a protected user, that user's user role (`NAME__U_ROLE`), or a protected role,
as its object or as any identifier in its SQL (GRANT ROLE ... TO USER ..., REVOKE ... FROM ROLE ...).
"""
from __future__ import annotations

import re

USER_ROLE_SUFFIX = "__U_ROLE"  # SnowDDL's user role of each user, named after it
_IDENTIFIER = re.compile(r'"((?:[^"]|"")+)"')


def _names_in(statement: dict) -> set[str]:
    names = {m.group(1).replace('""', '"').upper() for m in _IDENTIFIER.finditer(str(statement.get("sql", "")))}
    obj = statement.get("object")
    if obj:
        names.update(part.strip('"').upper() for part in str(obj).split("."))
    return names


def protected_touched(plan: dict | None, users: list[str], roles: list[str], env_prefix: str = "") -> list[str]:
    """The protected accounts (as "user NAME" / "role NAME") that the plan's statements name, in order."""
    if not plan or not (users or roles):
        return []
    prefix = env_prefix.upper()
    watch: dict[str, str] = {}
    for user in users:
        for name in (user, prefix + user):
            watch[name] = f"user {user}"
            watch[name + USER_ROLE_SUFFIX] = f"user {user}"
    for role in roles:
        for name in (role, prefix + role):
            watch[name] = f"role {role}"
    out: list[str] = []
    for statement in plan.get("statements") or []:
        for name in sorted(_names_in(statement)):
            label = watch.get(name)
            if label and label not in out:
                out.append(label)
    return out


def field_of(raw: dict, fields: list[str], touched: list[str]) -> str:
    """The form field whose value names one of the touched accounts, else the recipe's first field."""
    names = {t.split(" ", 1)[1] for t in touched}
    for key, value in raw.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        # A value is the account's name, or the SnowDDL name of a role (DBT_RUNNER for DBT_RUNNER__B_ROLE).
        if any(isinstance(v, str) and v.strip() and any(n == v.strip().upper() or n.startswith(v.strip().upper() + "__")
                                                       for n in names) for v in values):
            return str(key)
    return fields[0] if fields else "request"


def protected_message(touched: list[str]) -> str:
    return (f"this request would change {', '.join(touched)}, which SnowDDL deploys with (settings protected_users, "
            "protected_roles): such a change cannot be requested here. Ask the platform team.")
