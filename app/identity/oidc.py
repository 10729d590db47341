"""The OIDC provider (auth = oidc): `Oidc`, sign-in through `st.login` against the identity provider
of secrets `[auth]`, roles from a group claim (`claim_groups`, whole names only) through
`auth_group_roles`; `overage` (the provider left the groups out) and `oidc_subject` (who the provider
vouches for: `oidc:<iss>#<sub>`). The claims come from the host's signed-in viewer (app.host: st.user
in the portal, nobody in a job).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Mapping

from app.host import signed_in_user
from app.identity.github import is_namespaced
from app.identity.port import MAX_CLAIM, ROLES, _claim_name, _mapped
from app.identity.system import is_reserved
from core.changes.model import Actor

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
    claims: Callable[[], Mapping] = signed_in_user  # the host's viewer (app.host): st.user in the portal
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
