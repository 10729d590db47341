"""The identity port: `Identity` (who may act, with which portal roles now), the portal roles and what
every provider shares (reading a name as it reads, mapping groups or Snowflake roles to portal roles,
the name a claim gives). Errors: `SetupError` (sign-in cannot be offered as configured).
"""
from __future__ import annotations

import unicodedata
from typing import Iterable, Mapping, Protocol, runtime_checkable

from core.changes.model import Actor

ROLES = ("requester", "approver", "admin")
# A portal role and the roles it implies (an approver may also request; an admin may do everything).
IMPLIED = {"requester": ("requester",), "approver": ("requester", "approver"), "admin": ("requester", "approver", "admin")}
MAX_CLAIM = 200  # characters kept of a claim used as a name


class SetupError(ValueError):
    """Sign-in cannot be offered as configured (e.g. no usable cookie key); the message says what to set."""


@runtime_checkable
class Identity(Protocol):
    """Who is who. `kind`: local | oidc | sis | system."""

    @property
    def kind(self) -> str:
        """The provider: local | oidc | sis | system (a dataclass field or a property satisfies it)."""
        ...

    def roles_of(self, username: str) -> frozenset[str]:
        """The portal roles `username` holds now (subset of ROLES); empty when unknown, disabled or unreadable."""
        ...

    def actor(self, username: str) -> Actor | None:
        """`username` as an Actor with its roles now; None when it may not act (unknown, disabled, no role)."""
        ...


def _folded(name: str) -> str:
    """`name` as it reads: NFKC (full-width letters are letters), invisible format characters (zero-width
    spaces and joiners, soft hyphens) dropped, case folded, outer spaces stripped."""
    text = unicodedata.normalize("NFKC", str(name))
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip().casefold()


def _expand(roles: Iterable[str]) -> frozenset[str]:
    return frozenset(r for role in roles if role in IMPLIED for r in IMPLIED[role])


def _mapped(values: Iterable[str], mapping: Mapping[str, str]) -> frozenset[str]:
    """Portal roles of `values` (groups or Snowflake roles; compared case-insensitively) through `mapping`."""
    table = {str(k).casefold(): v for k, v in mapping.items()}
    return _expand(table[str(v).casefold()] for v in values if str(v).casefold() in table)


def _claim_name(claims: Mapping, keys=("preferred_username", "email", "user_name", "sub")) -> str:
    for key in keys:
        if key == "email" and claims.get("email_verified") is False:
            continue  # why: an address the provider did not verify is whatever the account typed (nOAuth)
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()[:MAX_CLAIM]
    return ""

